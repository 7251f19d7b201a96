/* Unit tests of hopcore: the WiFi hop driver's decisions (src/hop.c, issue 10,
 * docs/wifi.md). Built also with -Dnm=disabled. */
#include "config.h"

#include <string.h>

#include "check.h"
#include "hopcore.h"
#include "route-cloud.h"
#include "route-diy.h"

static void
test_transitions(void)
{
	static const struct {
		int from, to;
		bool terminal;
		enum hop_action want;
	} rows[] = {
		{ ROUTE_PREFLIGHT, ROUTE_WAIT_AP, false, HOP_JOIN_ITEAD },     /* start */
		{ ROUTE_PROVISIONING, ROUTE_WAIT_AP, false, HOP_JOIN_ITEAD },  /* AP lost early */
		{ ROUTE_WAIT_AP, ROUTE_WAIT_AP, false, HOP_NONE },             /* home-down */
		{ ROUTE_WAIT_AP, ROUTE_PROVISIONING, false, HOP_NONE },        /* ap-up */
		{ ROUTE_PROVISIONING, ROUTE_WAIT_HOME, false, HOP_HOME },      /* prov-ok */
		{ ROUTE_POSTED, ROUTE_WAIT_HOME, false, HOP_HOME },
		{ ROUTE_WAIT_HOME, ROUTE_WAIT_CALL, false, HOP_NONE },         /* home-up */
		{ ROUTE_WAIT_CALL, ROUTE_SERVING, false, HOP_NONE },
		{ ROUTE_SERVING, ROUTE_FINALSTAGE, false, HOP_JOIN_FINAL },    /* stock-done */
		{ ROUTE_PREFLIGHT, ROUTE_FINALSTAGE, false, HOP_JOIN_FINAL },  /* --no-prov resume */
		{ ROUTE_FINAL_DELIVERED, ROUTE_FINALSTAGE, false, HOP_NONE },  /* E2A rebooted */
		{ ROUTE_FINALSTAGE, ROUTE_FINAL_DELIVERED, false, HOP_NONE },
		{ ROUTE_FINAL_DELIVERED, ROUTE_DONE, true, HOP_RESTORE_EXIT },
		{ ROUTE_WAIT_AP, ROUTE_FAILED, true, HOP_RESTORE_EXIT },       /* interrupt */
		{ ROUTE_PROVISIONING, ROUTE_FAILED, true, HOP_RESTORE_EXIT },  /* Ctrl-C mid-hop */
		/* drawer (--all): the next device's ITEAD-<id>; its ap-up provisions */
		{ ROUTE_FINAL_DELIVERED, ROUTE_NEXT_DEVICE, false, HOP_JOIN_ITEAD },
		{ ROUTE_FINALSTAGE, ROUTE_NEXT_DEVICE, false, HOP_JOIN_ITEAD },
		{ ROUTE_NEXT_DEVICE, ROUTE_NEXT_DEVICE, false, HOP_NONE },
		{ ROUTE_NEXT_DEVICE, ROUTE_PROVISIONING, false, HOP_NONE },
		{ ROUTE_NEXT_DEVICE, ROUTE_DONE, true, HOP_RESTORE_EXIT },
		/* --all, several devices in stage 2 (look-next) */
		{ ROUTE_PROVISIONING, ROUTE_LOOK_NEXT, false, HOP_JOIN_ITEAD },
		{ ROUTE_POSTED, ROUTE_LOOK_NEXT, false, HOP_JOIN_ITEAD },
		{ ROUTE_LOOK_NEXT, ROUTE_PROVISIONING, false, HOP_NONE },
		{ ROUTE_LOOK_NEXT, ROUTE_LOOK_NEXT, false, HOP_NONE },
		{ ROUTE_LOOK_NEXT, ROUTE_WAIT_HOME, false, HOP_HOME },
		{ ROUTE_NEXT_DEVICE, ROUTE_FINALSTAGE, false, HOP_JOIN_FINAL },
		{ ROUTE_NEXT_DEVICE, ROUTE_WAIT_HOME, false, HOP_HOME },
		{ ROUTE_SERVING, ROUTE_SERVING, false, HOP_NONE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(hop_on_transition(rows[i].from, rows[i].to, rows[i].terminal) ==
				  rows[i].want,
			  "row %zu: %s, wanted %s", i,
			  hop_action_name(hop_on_transition(rows[i].from, rows[i].to,
							    rows[i].terminal)),
			  hop_action_name(rows[i].want));
	CHECK_STR(hop_action_name(HOP_JOIN_FINAL), "join-finalstage");
	CHECK_STR(hop_action_name((enum hop_action)99), "invalid");
}

/* Two interfaces (issue 10 item 5): no way home when the serving address is on
 * another interface than the radio; unknown indexes keep the one-radio behaviour. */
static void
test_home_elsewhere(void)
{
	CHECK(hop_home_elsewhere(2, 3));
	CHECK(!hop_home_elsewhere(3, 3));
	CHECK(!hop_home_elsewhere(0, 3));  /* no serving address yet: go home */
	CHECK(!hop_home_elsewhere(2, 0));  /* the radio's index unknown */
	CHECK(!hop_home_elsewhere(-1, 3));
}

static void
test_ssh(void)
{
	CHECK(hop_ssh_refuses(NMCORE_SSH_ON_RADIO, false));
	CHECK(!hop_ssh_refuses(NMCORE_SSH_ON_RADIO, true));
	CHECK(!hop_ssh_refuses(NMCORE_SSH_OTHER, false));
	CHECK(!hop_ssh_refuses(NMCORE_SSH_NONE, false));
	/* unknown: the address was not found; it may not be the radio: say, not refuse */
	CHECK(!hop_ssh_refuses(NMCORE_SSH_UNKNOWN, false));
}

static void
test_pick(void)
{
	static const uint8_t mac_a[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 2 };
	static const uint8_t zero[6];
	const enum nmcore_ap_role roles[] = { NMCORE_AP_OTHER, NMCORE_AP_ITEAD_BADSEC,
					      NMCORE_AP_ITEAD, NMCORE_AP_FINALSTAGE,
					      NMCORE_AP_ITEAD, NMCORE_AP_FINALSTAGE };
	uint8_t bssids[6][6] = { { 0 } };
	memcpy(bssids[3], mac_b, 6);
	memcpy(bssids[5], mac_a, 6);

	/* strongest first: the first of the role; a bad-security ITEAD is skipped */
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 6, NMCORE_AP_ITEAD, NULL), 2);
	/* FinalStage: the one with the MAC of the ITEAD joined wins over a stronger one */
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 6, NMCORE_AP_FINALSTAGE, mac_a), 5);
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 6, NMCORE_AP_FINALSTAGE, zero), 3);
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 6, NMCORE_AP_FINALSTAGE, NULL), 3);
	/* none of the role, or nothing scanned */
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 3, NMCORE_AP_FINALSTAGE, NULL), -1);
	CHECK_INT(hop_pick(roles, (const uint8_t(*)[6])bssids, 0, NMCORE_AP_ITEAD, NULL), -1);
}

/* drawer (--all): the ITEAD-<id> of a device taken over in this run is skipped. */
static void
test_pick_skip(void)
{
	static const uint8_t mac_a[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 2 };
	static const uint8_t mac_c[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 3 };
	const enum nmcore_ap_role roles[] = { NMCORE_AP_ITEAD, NMCORE_AP_OTHER, NMCORE_AP_ITEAD,
					      NMCORE_AP_ITEAD };
	uint8_t bssids[4][6] = { { 0 } };
	memcpy(bssids[0], mac_a, 6);
	memcpy(bssids[2], mac_b, 6);
	memcpy(bssids[3], mac_c, 6);
	const uint8_t(*b)[6] = (const uint8_t(*)[6])bssids;
	uint8_t taken[2][6];
	memcpy(taken[0], mac_a, 6);
	memcpy(taken[1], mac_b, 6);
	unsigned skipped = 99;

	CHECK_INT(hop_pick_skip(roles, b, 4, NMCORE_AP_ITEAD, NULL, NULL, 0, &skipped), 0);
	CHECK_INT(skipped, 0);
	CHECK_INT(hop_pick_skip(roles, b, 4, NMCORE_AP_ITEAD, NULL,
				(const uint8_t(*)[6])taken, 1, &skipped), 2);
	CHECK_INT(skipped, 1);
	CHECK_INT(hop_pick_skip(roles, b, 4, NMCORE_AP_ITEAD, NULL,
				(const uint8_t(*)[6])taken, 2, &skipped), 3);
	CHECK_INT(skipped, 2);
	/* every one taken: none, and all counted */
	CHECK_INT(hop_pick_skip(roles, b, 3, NMCORE_AP_ITEAD, NULL,
				(const uint8_t(*)[6])taken, 2, &skipped), -1);
	CHECK_INT(skipped, 2);
	CHECK_INT(hop_pick_skip(roles, b, 3, NMCORE_AP_ITEAD, NULL,
				(const uint8_t(*)[6])taken, 2, NULL), -1);
}

/* A restarted NetworkManager: the hop the current stage calls for. */
static void
test_for_stage(void)
{
	static const struct {
		int stage;
		enum hop_action want;
	} rows[] = {
		{ ROUTE_PREFLIGHT, HOP_NONE },       { ROUTE_WAIT_AP, HOP_JOIN_ITEAD },
		{ ROUTE_PROVISIONING, HOP_NONE },    { ROUTE_POSTED, HOP_NONE },
		{ ROUTE_PROV_PAUSE, HOP_NONE },      { ROUTE_LOOK_NEXT, HOP_JOIN_ITEAD },
		{ ROUTE_WAIT_HOME, HOP_HOME },       { ROUTE_WAIT_CALL, HOP_NONE },
		{ ROUTE_SERVING, HOP_NONE },         { ROUTE_FINALSTAGE, HOP_JOIN_FINAL },
		{ ROUTE_FINAL_DELIVERED, HOP_NONE }, { ROUTE_NEXT_DEVICE, HOP_JOIN_ITEAD },
		{ ROUTE_DONE, HOP_NONE },            { ROUTE_FAILED, HOP_NONE },
		{ -1, HOP_NONE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(hop_for_stage(rows[i].stage) == rows[i].want, "stage %d", rows[i].stage);
}

/* The DIY route's --pair: wait-ap joins ITEAD-<id>, wait-home goes home, a terminal
 * stage restores, nothing else (the device is on the home WiFi). */
static void
test_diy(void)
{
	static const struct {
		int from, to;
		bool terminal;
		enum hop_action want;
	} rows[] = {
		{ RDIY_PREFLIGHT, RDIY_WAIT_AP, false, HOP_JOIN_ITEAD },
		{ RDIY_PROV_PAUSE, RDIY_WAIT_AP, false, HOP_JOIN_ITEAD },
		{ RDIY_WAIT_AP, RDIY_WAIT_AP, false, HOP_NONE },
		{ RDIY_WAIT_AP, RDIY_PROVISIONING, false, HOP_NONE },
		{ RDIY_PROVISIONING, RDIY_WAIT_HOME, false, HOP_HOME },
		{ RDIY_POSTED, RDIY_WAIT_HOME, false, HOP_HOME },
		{ RDIY_WAIT_HOME, RDIY_DISCOVER, false, HOP_NONE },
		{ RDIY_DISCOVER, RDIY_INFO, false, HOP_NONE },
		{ RDIY_SERVING, RDIY_DONE, true, HOP_RESTORE_EXIT },
		{ RDIY_WAIT_AP, RDIY_FAILED, true, HOP_RESTORE_EXIT },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(hop_on_diy_transition(rows[i].from, rows[i].to, rows[i].terminal) ==
				  rows[i].want, "diy row %zu", i);
	CHECK_INT(hop_for_diy_stage(RDIY_WAIT_AP), HOP_JOIN_ITEAD);
	CHECK_INT(hop_for_diy_stage(RDIY_WAIT_HOME), HOP_HOME);
	CHECK_INT(hop_for_diy_stage(RDIY_FLASH), HOP_NONE);
}

int
main(void)
{
	test_transitions();
	test_diy();
	test_for_stage();
	test_ssh();
	test_home_elsewhere();
	test_pick();
	test_pick_skip();
	return check_done();
}
