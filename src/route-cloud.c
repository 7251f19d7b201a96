/* route-cloud: see route-cloud.h; docs/stage-machine.md is the authoritative
 * description of these tables. Pure. */
#include "config.h"

#include <stdio.h>

#include "route-cloud-int.h"

#define F(ctx) (&((const struct route_cloud *)(ctx))->f)

/* ---- guards ------------------------------------------------------------------------ */

static bool
g_ap_gone(const void *c)
{
	return !F(c)->have_ap && !F(c)->no_check_ip;
}

static bool
g_post_sent(const void *c)
{
	return F(c)->post_sent || F(c)->posted_unanswered;
}

static bool
g_ap_here(const void *c)
{
	return F(c)->have_ap || F(c)->no_check_ip;
}

static bool
g_ap_here_runs_left(const void *c)
{
	return g_ap_here(c) && F(c)->prov_runs < ROUTE_PROV_RUNS_MAX;
}

static bool
g_runs_left(const void *c)
{
	return F(c)->prov_runs < ROUTE_PROV_RUNS_MAX;
}

static bool
g_final_here(const void *c)
{
	return F(c)->have_final;
}

static bool
g_final_gone(const void *c)
{
	return !F(c)->have_final && !F(c)->no_check_ip;
}

static bool
g_final_gone_drawer(const void *c)
{
	return g_final_gone(c) && F(c)->drawer;
}

static bool
g_home_here(const void *c)
{
	return F(c)->have_home || F(c)->no_check_ip;
}

static bool
g_seen_home_here(const void *c)
{
	return F(c)->devices > F(c)->devices_before && g_home_here(c);
}

/* ---- time limits ------------------------------------------------------------------- */

static unsigned
l_wait(const void *c)
{
	return F(c)->wait_timeout_s;
}

static unsigned
l_call(const void *c)
{
	return F(c)->provisioned ? F(c)->call_timeout_s : F(c)->wait_timeout_s;
}

static unsigned
l_no_reply(const void *c)
{
	(void)c;
	return ROUTE_NO_REPLY_WAIT_S;
}

static unsigned
l_retry(const void *c)
{
	(void)c;
	return ROUTE_PROV_RETRY_S;
}

static unsigned
l_done(const void *c)
{
	return F(c)->done_timeout_s;
}

/* The notice comes within ROUTE_NOTICE_MAX_S, and before the limit. */
static unsigned
n_call(const void *c)
{
	unsigned lim = F(c)->call_timeout_s;
	if (!F(c)->provisioned)
		return 0;
	return lim / 2 < ROUTE_NOTICE_MAX_S ? (lim / 2 ? lim / 2 : 1) : ROUTE_NOTICE_MAX_S;
}

/* ---- entry actions ----------------------------------------------------------------- */

#define R(ctx) ((struct route_cloud *)(ctx))

static void
a_prov_enter(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	R(c)->f.prov_runs++;
	R(c)->f.dev_started = true;
	R(c)->f.post_sent = false;
	R(c)->ops->prov_start(R(c)->arg);
}

static void
a_prov_exit(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	R(c)->ops->prov_stop(R(c)->arg);
}

static void
a_posted(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	R(c)->f.posted_unanswered = true;
}

static void
a_provisioned(void *c, int from, int ev, int to)
{
	(void)ev, (void)to;
	if (from == ROUTE_PROVISIONING || from == ROUTE_POSTED || from == ROUTE_PROV_PAUSE)
		R(c)->f.provisioned = true;
}

static void
a_done(void *c, int from, int ev, int to)
{
	(void)to;
	rc_drawer_terminal(c, from, ev, true);
	R(c)->ops->finish(R(c)->arg, true, ev == ROUTE_EV_INTERRUPT);
}

static void
a_failed(void *c, int from, int ev, int to)
{
	(void)to;
	rc_drawer_terminal(c, from, ev, false);
	R(c)->ops->finish(R(c)->arg, false, ev == ROUTE_EV_INTERRUPT);
}

/* ---- the tables -------------------------------------------------------------------- */

static const struct engine_stage stages[_ROUTE_STAGE_MAX] = {
	[ROUTE_PREFLIGHT] = { .name = "preflight" },
	[ROUTE_WAIT_AP] = { .name = "wait-ap", .limit_s = l_wait, .instruction = rc_t_wait_ap,
			    .expiry = rc_x_wait_ap },
	[ROUTE_PROVISIONING] = { .name = "provisioning", .limit_s = l_wait,
				 .on_entry = a_prov_enter, .on_exit = a_prov_exit,
				 .instruction = rc_t_prov, .expiry = rc_x_prov },
	[ROUTE_POSTED] = { .name = "posted", .limit_s = l_no_reply, .on_entry = a_posted,
			   .instruction = rc_t_posted,
			   .expiry = rc_x_posted_fail },
	[ROUTE_PROV_PAUSE] = { .name = "prov-pause", .limit_s = l_retry, .instruction = rc_t_pause },
	[ROUTE_LOOK_NEXT] = { .name = "look-next", .limit_s = rc_l_look, .on_entry = rc_a_look,
			      .instruction = rc_t_look },
	[ROUTE_WAIT_HOME] = { .name = "wait-home", .limit_s = l_wait, .on_entry = a_provisioned,
			      .instruction = rc_t_wait_home, .expiry = rc_x_wait_home },
	[ROUTE_WAIT_CALL] = { .name = "wait-call", .limit_s = l_call, .notice_s = n_call,
			      .instruction = rc_t_wait_call, .notice = rc_no_call_notice,
			      .expiry = rc_x_wait_call },
	[ROUTE_SERVING] = { .name = "serving", .limit_s = l_wait, .instruction = rc_t_serving,
			    .expiry = rc_x_serving },
	[ROUTE_FINALSTAGE] = { .name = "finalstage", .limit_s = l_wait, .on_entry = rc_a_final,
			       .instruction = rc_t_final, .expiry = rc_x_final },
	[ROUTE_FINAL_DELIVERED] = { .name = "final-delivered", .limit_s = l_done,
				    .instruction = rc_t_delivered },
	[ROUTE_NEXT_DEVICE] = { .name = "next-device", .limit_s = rc_l_next,
				.on_entry = rc_a_next, .instruction = rc_t_next },
	[ROUTE_DONE] = { .name = "done", .on_entry = a_done, .terminal = true, .success = true },
	[ROUTE_FAILED] = { .name = "failed", .on_entry = a_failed, .terminal = true },
};

static const char *const ev_names[_ROUTE_EV_MAX] = {
	[ROUTE_EV_START] = "start",
	[ROUTE_EV_START_NO_PROV] = "start-no-prov",
	[ROUTE_EV_AP_UP] = "ap-up",
	[ROUTE_EV_AP_DOWN] = "ap-down",
	[ROUTE_EV_PROV_OK] = "prov-ok",
	[ROUTE_EV_PROV_NO_REPLY] = "prov-no-reply",
	[ROUTE_EV_PROV_FAILED] = "prov-failed",
	[ROUTE_EV_HOME_UP] = "home-up",
	[ROUTE_EV_HOME_DOWN] = "home-down",
	[ROUTE_EV_DEVICE_SEEN] = "device-seen",
	[ROUTE_EV_STOCK_DONE] = "stock-done",
	[ROUTE_EV_FINAL_UP] = "final-up",
	[ROUTE_EV_FINAL_DOWN] = "final-down",
	[ROUTE_EV_E2A_REQUEST] = "e2a-request",
	[ROUTE_EV_FINAL_DELIVERED] = "final-delivered",
	[ROUTE_EV_TIMEOUT] = "timeout",
	[ROUTE_EV_FATAL] = "fatal",
	[ROUTE_EV_INTERRUPT] = "interrupt",
	[ROUTE_EV_JOIN_FAILED] = "join-failed",
	[ROUTE_EV_ENTERED] = "entered",
};

/* Rows in priority order: the first whose guard holds is taken. docs/stage-machine.md,
 * section "Transitions", lists the same rows. */
#define ROW(f, e, g, t, n) { ROUTE_##f, ROUTE_EV_##e, g, ROUTE_##t, n }
#define SELF(s, e) { ROUTE_##s, ROUTE_EV_##e, NULL, ROUTE_##s, NULL }
#define SELF_IF(s, e, g) { ROUTE_##s, ROUTE_EV_##e, g, ROUTE_##s, NULL }
static const struct engine_row rows[] = {
	ROW(PREFLIGHT, START, NULL, WAIT_AP, NULL),
	ROW(PREFLIGHT, START_NO_PROV, NULL, WAIT_HOME, NULL),

	/* Already on ITEAD-<id> (or not checking): provision at once. */
	ROW(WAIT_AP, ENTERED, g_ap_here_runs_left, PROVISIONING, NULL),
	ROW(WAIT_AP, AP_UP, NULL, PROVISIONING, NULL),
	/* A device provisioned earlier (or by the app) may call in directly. */
	ROW(WAIT_AP, DEVICE_SEEN, NULL, SERVING, NULL),
	ROW(WAIT_AP, FINAL_UP, NULL, FINALSTAGE, NULL),
	ROW(WAIT_AP, E2A_REQUEST, NULL, FINALSTAGE, NULL),
	/* NM cannot join it (wrong password): --all goes on with the others (the driver
	 * skips that AP); one device: nothing else to wait for. */
	SELF_IF(WAIT_AP, JOIN_FAILED, rc_g_drawer),
	ROW(WAIT_AP, JOIN_FAILED, NULL, FAILED, rc_n_join_failed),
	SELF(WAIT_AP, AP_DOWN), SELF(WAIT_AP, HOME_UP), SELF(WAIT_AP, HOME_DOWN),
	ROW(WAIT_AP, TIMEOUT, rc_g_drawer_dev, NEXT_DEVICE, NULL), /* --all: this device */
	ROW(WAIT_AP, TIMEOUT, NULL, FAILED, NULL),

	/* --all: a device provisioned: look for another before going home (look-next) */
	ROW(PROVISIONING, PROV_OK, rc_g_drawer, LOOK_NEXT, NULL),
	ROW(PROVISIONING, PROV_NO_REPLY, rc_g_ap_gone_drawer, LOOK_NEXT, rc_n_posted_gone),
	ROW(PROVISIONING, AP_DOWN, rc_g_post_sent_drawer, LOOK_NEXT, rc_n_posted_gone),
	/* --all: devices provisioned before may call meanwhile (two interfaces) */
	SELF_IF(PROVISIONING, DEVICE_SEEN, rc_g_drawer),
	ROW(PROVISIONING, PROV_OK, NULL, WAIT_HOME, NULL),
	/* Posted without a reply: the AP already gone means it took the settings. */
	ROW(PROVISIONING, PROV_NO_REPLY, g_ap_gone, WAIT_HOME, rc_n_posted_gone),
	ROW(PROVISIONING, PROV_NO_REPLY, NULL, POSTED, NULL),
	/* The AP went while the POST was out: the device left with the settings. */
	ROW(PROVISIONING, AP_DOWN, g_post_sent, WAIT_HOME, rc_n_posted_gone),
	ROW(PROVISIONING, AP_DOWN, NULL, WAIT_AP, rc_n_ap_early),
	ROW(PROVISIONING, PROV_FAILED, g_ap_gone, WAIT_AP, NULL),
	ROW(PROVISIONING, PROV_FAILED, g_runs_left, PROV_PAUSE, NULL),
	ROW(PROVISIONING, PROV_FAILED, rc_g_drawer, NEXT_DEVICE, rc_x_prov_fail),
	ROW(PROVISIONING, PROV_FAILED, NULL, FAILED, rc_x_prov_fail),
	ROW(PROVISIONING, DEVICE_SEEN, NULL, SERVING, NULL),
	SELF(PROVISIONING, AP_UP), SELF(PROVISIONING, HOME_UP), SELF(PROVISIONING, HOME_DOWN),
	ROW(PROVISIONING, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(PROVISIONING, TIMEOUT, NULL, FAILED, NULL),

	/* The unanswered POST: the AP going away is the device leaving with the settings. */
	ROW(POSTED, ENTERED, rc_g_ap_gone_drawer, LOOK_NEXT, rc_n_posted_gone),
	ROW(POSTED, AP_DOWN, rc_g_drawer, LOOK_NEXT, rc_n_posted_gone),
	SELF_IF(POSTED, DEVICE_SEEN, rc_g_drawer),
	ROW(POSTED, ENTERED, g_ap_gone, WAIT_HOME, rc_n_posted_gone),
	ROW(POSTED, AP_DOWN, NULL, WAIT_HOME, rc_n_posted_gone),
	ROW(POSTED, TIMEOUT, g_runs_left, PROVISIONING, rc_x_posted_retry),
	ROW(POSTED, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(POSTED, TIMEOUT, NULL, FAILED, NULL),
	ROW(POSTED, DEVICE_SEEN, NULL, SERVING, NULL),
	SELF(POSTED, AP_UP), SELF(POSTED, HOME_UP), SELF(POSTED, HOME_DOWN),

	ROW(PROV_PAUSE, TIMEOUT, g_ap_here, PROVISIONING, NULL),
	ROW(PROV_PAUSE, TIMEOUT, NULL, WAIT_AP, NULL),
	ROW(PROV_PAUSE, AP_DOWN, rc_g_post_sent_drawer, LOOK_NEXT, rc_n_posted_gone),
	SELF_IF(PROV_PAUSE, DEVICE_SEEN, rc_g_drawer),
	ROW(PROV_PAUSE, AP_DOWN, g_post_sent, WAIT_HOME, rc_n_posted_gone),
	ROW(PROV_PAUSE, AP_DOWN, NULL, WAIT_AP, rc_n_ap_early),
	ROW(PROV_PAUSE, DEVICE_SEEN, NULL, SERVING, NULL),
	SELF(PROV_PAUSE, AP_UP), SELF(PROV_PAUSE, HOME_UP), SELF(PROV_PAUSE, HOME_DOWN),

	/* --all: a device provisioned; another ITEAD-<id> in range is provisioned next,
	 * else home (docs/stage-machine.md "look-next"). */
	ROW(LOOK_NEXT, AP_UP, NULL, PROVISIONING, NULL),
	ROW(LOOK_NEXT, TIMEOUT, NULL, WAIT_HOME, NULL),
	SELF(LOOK_NEXT, AP_DOWN), SELF(LOOK_NEXT, HOME_UP), SELF(LOOK_NEXT, HOME_DOWN),
	SELF(LOOK_NEXT, DEVICE_SEEN), SELF(LOOK_NEXT, STOCK_DONE), SELF(LOOK_NEXT, PROV_OK),
	SELF(LOOK_NEXT, PROV_NO_REPLY), SELF(LOOK_NEXT, PROV_FAILED),
	SELF(LOOK_NEXT, FINAL_UP), SELF(LOOK_NEXT, FINAL_DOWN), SELF(LOOK_NEXT, E2A_REQUEST),
	SELF(LOOK_NEXT, JOIN_FAILED),

	/* --no-prov resumes at FinalStage when 192.168.4.2 is already there. */
	ROW(WAIT_HOME, ENTERED, g_final_here, FINALSTAGE, NULL),
	ROW(WAIT_HOME, ENTERED, g_seen_home_here, SERVING, NULL),
	ROW(WAIT_HOME, ENTERED, g_home_here, WAIT_CALL, NULL),
	ROW(WAIT_HOME, HOME_UP, g_seen_home_here, SERVING, NULL),
	ROW(WAIT_HOME, HOME_UP, NULL, WAIT_CALL, NULL),
	ROW(WAIT_HOME, DEVICE_SEEN, NULL, SERVING, NULL),
	ROW(WAIT_HOME, FINAL_UP, NULL, FINALSTAGE, NULL),
	ROW(WAIT_HOME, E2A_REQUEST, NULL, FINALSTAGE, NULL),
	SELF(WAIT_HOME, AP_UP), SELF(WAIT_HOME, AP_DOWN), SELF(WAIT_HOME, HOME_DOWN),
	SELF(WAIT_HOME, PROV_OK), SELF(WAIT_HOME, PROV_NO_REPLY),
	ROW(WAIT_HOME, TIMEOUT, NULL, FAILED, NULL),

	ROW(WAIT_CALL, DEVICE_SEEN, NULL, SERVING, NULL),
	ROW(WAIT_CALL, HOME_DOWN, NULL, WAIT_HOME, NULL),
	ROW(WAIT_CALL, FINAL_UP, NULL, FINALSTAGE, NULL),
	ROW(WAIT_CALL, E2A_REQUEST, NULL, FINALSTAGE, NULL),
	SELF(WAIT_CALL, AP_UP), SELF(WAIT_CALL, AP_DOWN), SELF(WAIT_CALL, HOME_UP),
	ROW(WAIT_CALL, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(WAIT_CALL, TIMEOUT, NULL, FAILED, NULL),

	/* --all: FinalStage one device at a time, once no device is left in stage 2 (this
	 * computer leaving home would cut their downloads). */
	ROW(SERVING, ENTERED, rc_g_final_ready, FINALSTAGE, NULL),
	ROW(SERVING, STOCK_DONE, rc_g_stage2_busy, SERVING, rc_n_wait_others),
	ROW(SERVING, STOCK_DONE, NULL, FINALSTAGE, NULL),
	ROW(SERVING, FINAL_UP, NULL, FINALSTAGE, NULL),
	ROW(SERVING, E2A_REQUEST, NULL, FINALSTAGE, NULL),
	ROW(SERVING, HOME_DOWN, NULL, WAIT_HOME, NULL),
	SELF(SERVING, DEVICE_SEEN), SELF(SERVING, HOME_UP), SELF(SERVING, AP_UP),
	SELF(SERVING, AP_DOWN),
	ROW(SERVING, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(SERVING, TIMEOUT, NULL, FAILED, NULL),

	ROW(FINALSTAGE, FINAL_DELIVERED, NULL, FINAL_DELIVERED, NULL),
	/* Other devices may still be in stage 2 while this one is in FinalStage. */
	SELF(FINALSTAGE, FINAL_UP), SELF(FINALSTAGE, FINAL_DOWN), SELF(FINALSTAGE, E2A_REQUEST),
	SELF(FINALSTAGE, STOCK_DONE), SELF(FINALSTAGE, DEVICE_SEEN), SELF(FINALSTAGE, HOME_UP),
	SELF(FINALSTAGE, HOME_DOWN), SELF(FINALSTAGE, AP_UP), SELF(FINALSTAGE, AP_DOWN),
	ROW(FINALSTAGE, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(FINALSTAGE, TIMEOUT, NULL, FAILED, NULL),

	/* FinalStage may have gone while the delivery was being confirmed. */
	ROW(FINAL_DELIVERED, ENTERED, g_final_gone_drawer, NEXT_DEVICE, NULL),
	ROW(FINAL_DELIVERED, ENTERED, g_final_gone, DONE, NULL),
	ROW(FINAL_DELIVERED, FINAL_DOWN, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(FINAL_DELIVERED, FINAL_DOWN, NULL, DONE, NULL),
	ROW(FINAL_DELIVERED, TIMEOUT, rc_g_drawer, NEXT_DEVICE, NULL),
	ROW(FINAL_DELIVERED, TIMEOUT, NULL, DONE, NULL),
	/* The image is on the device: an interrupt now is still a success. */
	ROW(FINAL_DELIVERED, INTERRUPT, NULL, DONE, NULL),
	SELF(FINAL_DELIVERED, FINAL_UP), SELF(FINAL_DELIVERED, E2A_REQUEST),
	SELF(FINAL_DELIVERED, FINAL_DELIVERED), SELF(FINAL_DELIVERED, HOME_UP),
	SELF(FINAL_DELIVERED, HOME_DOWN), SELF(FINAL_DELIVERED, DEVICE_SEEN),
	SELF(FINAL_DELIVERED, STOCK_DONE),

	/* --all: between two devices (docs/stage-machine.md "next-device"): the next
	 * device's FinalStage, back home to devices still in stage 2, or the next
	 * ITEAD-<id>. */
	ROW(NEXT_DEVICE, ENTERED, rc_g_final_waiting, FINALSTAGE, NULL),
	ROW(NEXT_DEVICE, ENTERED, rc_g_stage2_busy, WAIT_HOME, NULL),
	ROW(NEXT_DEVICE, AP_UP, NULL, PROVISIONING, NULL),
	ROW(NEXT_DEVICE, TIMEOUT, rc_g_drawer_all_done, DONE, rc_n_next_done),
	ROW(NEXT_DEVICE, TIMEOUT, NULL, FAILED, rc_n_next_failed),
	ROW(NEXT_DEVICE, INTERRUPT, rc_g_drawer_all_done, DONE, rc_n_stopped_done),
	SELF(NEXT_DEVICE, AP_DOWN), SELF(NEXT_DEVICE, HOME_UP), SELF(NEXT_DEVICE, HOME_DOWN),
	SELF(NEXT_DEVICE, FINAL_UP), SELF(NEXT_DEVICE, FINAL_DOWN),
	SELF(NEXT_DEVICE, DEVICE_SEEN), SELF(NEXT_DEVICE, STOCK_DONE),
	SELF(NEXT_DEVICE, E2A_REQUEST), SELF(NEXT_DEVICE, FINAL_DELIVERED),
	SELF(NEXT_DEVICE, PROV_OK), SELF(NEXT_DEVICE, PROV_NO_REPLY), SELF(NEXT_DEVICE, PROV_FAILED),
	SELF(NEXT_DEVICE, JOIN_FAILED),

	/* Every non-terminal stage. */
	{ ENGINE_ANY, ROUTE_EV_FATAL, NULL, ROUTE_FAILED, NULL },
	{ ENGINE_ANY, ROUTE_EV_INTERRUPT, NULL, ROUTE_FAILED, rc_n_interrupt },
};
#undef ROW
#undef SELF
#undef SELF_IF

const struct engine_route route_cloud = {
	.name = "cloud",
	.stages = stages,
	.nstages = _ROUTE_STAGE_MAX,
	.rows = rows,
	.nrows = sizeof(rows) / sizeof(rows[0]),
	.event_names = ev_names,
	.nevents = _ROUTE_EV_MAX,
	.initial = ROUTE_PREFLIGHT,
	.ev_entered = ROUTE_EV_ENTERED,
	.ev_timeout = ROUTE_EV_TIMEOUT,
	.ev_fatal = ROUTE_EV_FATAL,
};
