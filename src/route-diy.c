/* route-diy: see route-diy.h; docs/diy.md describes the stages. Pure. */
#include "config.h"

#include <stdio.h>

#include "route-diy-int.h"

#define F(ctx) (&((const struct route_diy *)(ctx))->f)

/* ---- guards ------------------------------------------------------------------------ */

static bool
g_act_info(const void *c)
{
	return F(c)->next.act == DIYFLOW_ACT_INFO;
}

static bool
g_act_unlock(const void *c)
{
	return F(c)->next.act == DIYFLOW_ACT_UNLOCK;
}

static bool
g_act_flash(const void *c)
{
	return F(c)->next.act == DIYFLOW_ACT_FLASH;
}

static bool
g_act_serve(const void *c)
{
	return F(c)->next.act == DIYFLOW_ACT_SERVE;
}

/* The device's own report: every byte acked and completion error 0. */
static bool
g_completed(const void *c)
{
	return F(c)->all_acked && F(c)->completion_seen && F(c)->completion_error == 0;
}

/* ... and the third proof: it left mDNS (§5.7) */
static bool
g_left(const void *c)
{
	return g_completed(c) && F(c)->left_mdns;
}

/* ... which nobody can observe: no mDNS watcher runs */
static bool
g_unobservable(const void *c)
{
	return g_completed(c) && !F(c)->mdns_watch;
}

static bool
g_failed(const void *c)
{
	return F(c)->verdict == DIYFLOW_FAILED;
}

static bool
g_all_acked(const void *c)
{
	return F(c)->all_acked;
}

/* diymore: the probe at the left-mdns limit (diyleave.h) */
static bool
g_left_timeout(const void *c)
{
	return g_completed(c) && g_failed(c) && !F(c)->left_mdns;
}

static bool
g_probe_gone(const void *c)
{
	return F(c)->probe == DIYLEAVE_GONE;
}

/* ---- time limits: backstops; the requests' own limits come first ---------------------- */

static unsigned
l_info(const void *c)
{
	(void)c;
	return 2 * DIYFLOW_INFO_MS / 1000 + RDIY_REQ_MARGIN_S;
}

static unsigned
l_unlock(const void *c)
{
	(void)c;
	return 2 * DIYFLOW_UNLOCK_MS / 1000 + RDIY_REQ_MARGIN_S;
}

static unsigned
l_flash(const void *c)
{
	(void)c;
	return 2 * DIYFLOW_FLASH_MS / 1000 + RDIY_REQ_MARGIN_S;
}

static unsigned
l_discover(const void *c)
{
	(void)c;
	return DIYFLOW_DISCOVER_MS / 1000;
}

static unsigned
l_left_mdns(const void *c)
{
	(void)c;
	return DIYFLOW_LEAVE_MDNS_MS / 1000 + 5; /* diyflow_verdict() says it first */
}

static unsigned
l_completion(const void *c)
{
	(void)c;
	return DIYFLOW_COMPLETION_MS / 1000 + 5; /* diyflow_verdict() says it first */
}

static unsigned
l_probe(const void *c)
{
	(void)c;
	return DIYFLOW_INFO_MS / 1000 + RDIY_REQ_MARGIN_S; /* the probe's own limit first */
}

/* ---- texts --------------------------------------------------------------------------- */

static const char *
ip(const void *c)
{
	return F(c)->device_ip ? F(c)->device_ip : "the device";
}

static bool
x_discover(const void *c, char *buf, size_t len)
{
	if (F(c)->pair.on) /* --pair: the device we just paired (route-diy-pair.c) */
		return rdp_x_discover(c, buf, len);
	if (F(c)->hidden)
		snprintf(buf, len, "no Sonoff in DIY mode announced itself within %d s: %s (or name "
			 "it with --device-ip)", DIYFLOW_DISCOVER_MS / 1000, F(c)->hidden);
	else
		snprintf(buf, len, "no Sonoff in DIY mode announced itself on this network within "
			 "%d s: check that it is in DIY mode and on this subnet, that mDNS (UDP 5353) "
			 "is not blocked, or name it with --device-ip", DIYFLOW_DISCOVER_MS / 1000);
	return true;
}

static bool
x_left_mdns(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s reported success but still announces DIY mode: not called done; "
		 "power-cycle it and look for the new firmware's WiFi", ip(c));
	return true;
}

static bool
x_info(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s:8081 did not answer /zeroconf/info: check the address, that the "
		 "device is in DIY mode and on this network", ip(c));
	return true;
}

static bool
x_unlock(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "ota_unlock did not finish: the device needs Internet access to reach "
		 "ITEAD's unlock server");
	return true;
}

static bool
x_flash(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s:8081 did not answer ota_flash", ip(c));
	return true;
}

static bool
x_completion(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "every byte was delivered, but the device sent no completion POST: "
		 "result unknown, not called done");
	return true;
}

static bool
n_give_up(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", F(c)->next.diagnosis ? F(c)->next.diagnosis : "gave up");
	return true;
}

static bool
n_verdict(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", F(c)->diag[0] ? F(c)->diag : "failed");
	return true;
}

static bool
n_done(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s: every byte acknowledged, the completion POST said error 0, and "
		 "it left mDNS", ip(c));
	return true;
}

static bool
n_unproven(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s reported success (every byte acknowledged, completion POST error "
		 "0), but its leaving mDNS could not be observed (%s): not called done", ip(c),
		 F(c)->unobservable ? F(c)->unobservable : "no Avahi browser");
	return true;
}

static bool
n_probe(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", F(c)->probe_diag[0] ? F(c)->probe_diag : "failed");
	return true;
}

static bool
x_probe(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s reported success but sent no mDNS goodbye, and the probe of port "
		 "8081 did not end (our bug): not called done", ip(c));
	return true;
}

static bool
n_interrupted(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "interrupted: the device was not called done");
	return true;
}

/* ---- actions ------------------------------------------------------------------------- */

static void
a_probe(void *c, int from, int ev, int to)
{
	struct route_diy *r = c;

	(void)from, (void)ev, (void)to;
	if (r->ops->probe)
		r->ops->probe(r->arg);
}

static void
a_done(void *c, int from, int ev, int to)
{
	struct route_diy *r = c;

	(void)from, (void)ev, (void)to;
	r->ops->finish(r->arg, true, false);
}

static void
a_failed(void *c, int from, int ev, int to)
{
	struct route_diy *r = c;

	(void)from, (void)to;
	r->ops->finish(r->arg, false, ev == RDIY_EV_INTERRUPT);
}

void
route_diy_observer(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct route_diy *r = arg;
	enum diyflow_step step = to == RDIY_INFO     ? DIYFLOW_STEP_INFO
				 : to == RDIY_UNLOCK ? DIYFLOW_STEP_UNLOCK
				 : to == RDIY_FLASH  ? DIYFLOW_STEP_FLASH
						     : DIYFLOW_STEP_NONE;

	(void)e, (void)from;
	if (step == DIYFLOW_STEP_NONE || (ev != RDIY_EV_FOUND && ev != RDIY_EV_NEXT))
		return;
	/* before the first diyflow_next() answer (FOUND) the id is sent unless the device is
	 * known to refuse it (MINIR3, multi-channel) */
	r->ops->send(r->arg, step,
		     ev == RDIY_EV_FOUND ? !r->f.omit_deviceid : r->f.next.send_deviceid);
}

/* ---- tables -------------------------------------------------------------------------- */

static const struct engine_stage stages[_RDIY_STAGE_MAX] = {
	[RDIY_PREFLIGHT] = { .name = "preflight" },
	[RDIY_DISCOVER] = { .name = "discover", .limit_s = l_discover, .expiry = x_discover },
	[RDIY_INFO] = { .name = "info", .limit_s = l_info, .expiry = x_info },
	[RDIY_UNLOCK] = { .name = "unlock", .limit_s = l_unlock, .expiry = x_unlock },
	[RDIY_FLASH] = { .name = "flash", .limit_s = l_flash, .expiry = x_flash },
	[RDIY_SERVING] = { .name = "serving-image" }, /* diyflow_verdict() bounds it */
	[RDIY_COMPLETION] = { .name = "completion-post", .limit_s = l_completion,
			      .expiry = x_completion },
	[RDIY_LEFT_MDNS] = { .name = "left-mdns", .limit_s = l_left_mdns, .expiry = x_left_mdns },
	[RDIY_DONE] = { .name = "done", .on_entry = a_done, .terminal = true, .success = true },
	[RDIY_FAILED] = { .name = "failed", .on_entry = a_failed, .terminal = true },
	[RDIY_UNPROVEN] = { .name = "unproven", .on_entry = a_failed, .terminal = true },
	[RDIY_LEAVE_PROBE] = { .name = "probe-8081", .limit_s = l_probe, .on_entry = a_probe,
			       .expiry = x_probe }, /* diymore */
	/* issue 11 item 2 (diyap): --pair (route-diy-pair.c) */
	[RDIY_WAIT_AP] = { .name = "wait-ap", .limit_s = rdp_l_wait, .instruction = rdp_t_wait_ap,
			   .expiry = rdp_x_wait_ap },
	[RDIY_PROVISIONING] = { .name = "provisioning", .limit_s = rdp_l_wait,
				.on_entry = rdp_a_prov_enter, .on_exit = rdp_a_prov_exit,
				.instruction = rdp_t_prov, .expiry = rdp_x_prov },
	[RDIY_POSTED] = { .name = "posted", .limit_s = rdp_l_no_reply, .on_entry = rdp_a_posted,
			  .instruction = rdp_t_posted, .expiry = rdp_x_posted_fail },
	[RDIY_PROV_PAUSE] = { .name = "prov-pause", .limit_s = rdp_l_retry,
			      .instruction = rdp_t_pause },
	[RDIY_WAIT_HOME] = { .name = "wait-home", .limit_s = rdp_l_wait,
			     .on_entry = rdp_a_provisioned, .instruction = rdp_t_wait_home,
			     .expiry = rdp_x_wait_home },
};

static const char *const ev_names[_RDIY_EV_MAX] = {
	[RDIY_EV_START] = "start",
	[RDIY_EV_NEXT] = "next",
	[RDIY_EV_PROGRESS] = "progress",
	[RDIY_EV_TIMEOUT] = "timeout",
	[RDIY_EV_FATAL] = "fatal",
	[RDIY_EV_INTERRUPT] = "interrupt",
	[RDIY_EV_ENTERED] = "entered",
	[RDIY_EV_FOUND] = "found",
	[RDIY_EV_PROBED] = "probed", /* diymore */
	/* issue 11 item 2 (diyap): --pair */
	[RDIY_EV_AP_UP] = "ap-up",
	[RDIY_EV_AP_DOWN] = "ap-down",
	[RDIY_EV_PROV_OK] = "prov-ok",
	[RDIY_EV_PROV_NO_REPLY] = "prov-no-reply",
	[RDIY_EV_PROV_FAILED] = "prov-failed",
	[RDIY_EV_HOME_UP] = "home-up",
	[RDIY_EV_HOME_DOWN] = "home-down",
	[RDIY_EV_LAN_MODE] = "lan-mode",
};

#define ROW(from, ev, guard, to, note) { RDIY_##from, RDIY_EV_##ev, guard, RDIY_##to, note }
#define ANY(ev, guard, to, note) { ENGINE_ANY, RDIY_EV_##ev, guard, RDIY_##to, note }
/* the request stages: diyflow_next() decides (a row to the same stage resends) */
#define NEXT_ROWS(from)                                         \
	ROW(from, NEXT, g_act_info, INFO, NULL),                \
	ROW(from, NEXT, g_act_unlock, UNLOCK, NULL),            \
	ROW(from, NEXT, g_act_flash, FLASH, NULL),              \
	ROW(from, NEXT, g_act_serve, SERVING, NULL),            \
	ROW(from, NEXT, NULL, FAILED, n_give_up),               \
	ROW(from, PROGRESS, NULL, from, NULL),                  \
	ROW(from, TIMEOUT, NULL, FAILED, NULL)

#define SELF(s, ev) ROW(s, ev, NULL, s, NULL)
static const struct engine_row rows[] = {
	/* issue 11 item 2 (diyap): --pair, into DIY mode before discover, as route 1's stage 1
	 * (route-cloud.c); the user hops; discover's 60 s start when this computer is home */
	ROW(PREFLIGHT, START, rdp_g_pair, WAIT_AP, NULL),
	ROW(WAIT_AP, ENTERED, rdp_g_ap_here_runs_left, PROVISIONING, NULL),
	ROW(WAIT_AP, AP_UP, NULL, PROVISIONING, NULL),
	SELF(WAIT_AP, AP_DOWN), SELF(WAIT_AP, HOME_UP), SELF(WAIT_AP, HOME_DOWN),
	ROW(WAIT_AP, TIMEOUT, NULL, FAILED, NULL),
	ROW(PROVISIONING, PROV_OK, NULL, WAIT_HOME, NULL),
	/* posted without a reply: the AP already gone means it took the settings */
	ROW(PROVISIONING, PROV_NO_REPLY, rdp_g_ap_gone, WAIT_HOME, rdp_n_posted_gone),
	ROW(PROVISIONING, PROV_NO_REPLY, NULL, POSTED, NULL),
	ROW(PROVISIONING, AP_DOWN, rdp_g_post_sent, WAIT_HOME, rdp_n_posted_gone),
	ROW(PROVISIONING, AP_DOWN, NULL, WAIT_AP, rdp_n_ap_early),
	ROW(PROVISIONING, PROV_FAILED, rdp_g_ap_gone, WAIT_AP, NULL),
	ROW(PROVISIONING, PROV_FAILED, rdp_g_runs_left, PROV_PAUSE, NULL),
	ROW(PROVISIONING, PROV_FAILED, NULL, FAILED, rdp_x_prov_fail),
	SELF(PROVISIONING, AP_UP), SELF(PROVISIONING, HOME_UP), SELF(PROVISIONING, HOME_DOWN),
	ROW(PROVISIONING, TIMEOUT, NULL, FAILED, NULL),
	ROW(POSTED, ENTERED, rdp_g_ap_gone, WAIT_HOME, rdp_n_posted_gone),
	ROW(POSTED, AP_DOWN, NULL, WAIT_HOME, rdp_n_posted_gone),
	ROW(POSTED, TIMEOUT, rdp_g_runs_left, PROVISIONING, rdp_x_posted_retry),
	ROW(POSTED, TIMEOUT, NULL, FAILED, NULL),
	SELF(POSTED, AP_UP), SELF(POSTED, HOME_UP), SELF(POSTED, HOME_DOWN),
	ROW(PROV_PAUSE, TIMEOUT, rdp_g_ap_here, PROVISIONING, NULL),
	ROW(PROV_PAUSE, TIMEOUT, NULL, WAIT_AP, NULL),
	ROW(PROV_PAUSE, AP_DOWN, rdp_g_post_sent, WAIT_HOME, rdp_n_posted_gone),
	ROW(PROV_PAUSE, AP_DOWN, NULL, WAIT_AP, rdp_n_ap_early),
	SELF(PROV_PAUSE, AP_UP), SELF(PROV_PAUSE, HOME_UP), SELF(PROV_PAUSE, HOME_DOWN),
	ROW(WAIT_HOME, ENTERED, rdp_g_home_back, DISCOVER, NULL),
	ROW(WAIT_HOME, HOME_UP, rdp_g_home_back, DISCOVER, NULL),
	ROW(WAIT_HOME, AP_DOWN, rdp_g_home_back, DISCOVER, NULL),
	SELF(WAIT_HOME, AP_UP), SELF(WAIT_HOME, AP_DOWN), SELF(WAIT_HOME, HOME_UP),
	SELF(WAIT_HOME, HOME_DOWN), SELF(WAIT_HOME, PROV_OK), SELF(WAIT_HOME, PROV_NO_REPLY),
	ROW(WAIT_HOME, TIMEOUT, NULL, FAILED, NULL),
	/* the paired device came back in eWeLink LAN mode: one line, nothing flashed */
	ROW(DISCOVER, LAN_MODE, NULL, FAILED, rdp_n_lan_mode),
	SELF(DISCOVER, AP_UP), SELF(DISCOVER, AP_DOWN), SELF(DISCOVER, HOME_UP),
	SELF(DISCOVER, HOME_DOWN),

	ROW(PREFLIGHT, START, NULL, DISCOVER, NULL),
	ROW(DISCOVER, FOUND, NULL, INFO, NULL),
	ROW(DISCOVER, TIMEOUT, NULL, FAILED, NULL),
	NEXT_ROWS(INFO),
	NEXT_ROWS(UNLOCK),
	NEXT_ROWS(FLASH),

	/* the verdicts: done needs all three proofs; a failure is the verdict's line */
	ROW(SERVING, ENTERED, g_completed, LEFT_MDNS, NULL),
	ROW(SERVING, ENTERED, g_failed, FAILED, n_verdict),
	ROW(SERVING, ENTERED, g_all_acked, COMPLETION, NULL),
	ROW(SERVING, PROGRESS, g_completed, LEFT_MDNS, NULL),
	ROW(SERVING, PROGRESS, g_failed, FAILED, n_verdict),
	ROW(SERVING, PROGRESS, g_all_acked, COMPLETION, NULL),
	ROW(SERVING, PROGRESS, NULL, SERVING, NULL),
	ROW(COMPLETION, ENTERED, g_completed, LEFT_MDNS, NULL),
	ROW(COMPLETION, PROGRESS, g_completed, LEFT_MDNS, NULL),
	ROW(COMPLETION, PROGRESS, g_failed, FAILED, n_verdict),
	ROW(COMPLETION, PROGRESS, NULL, COMPLETION, NULL),
	ROW(COMPLETION, TIMEOUT, NULL, FAILED, NULL),
	ROW(LEFT_MDNS, ENTERED, g_left, DONE, n_done),
	ROW(LEFT_MDNS, ENTERED, g_unobservable, UNPROVEN, n_unproven),
	ROW(LEFT_MDNS, PROGRESS, g_left, DONE, n_done),
	ROW(LEFT_MDNS, PROGRESS, g_unobservable, UNPROVEN, n_unproven),
	ROW(LEFT_MDNS, PROGRESS, g_left_timeout, LEAVE_PROBE, NULL), /* diymore */
	ROW(LEFT_MDNS, PROGRESS, g_failed, FAILED, n_verdict),
	ROW(LEFT_MDNS, PROGRESS, NULL, LEFT_MDNS, NULL),
	ROW(LEFT_MDNS, TIMEOUT, NULL, FAILED, NULL),
	/* diymore: no goodbye within the limit: does port 8081 still answer? (diyleave.h) A
	 * late goodbye is still the third proof; a silent 8081 is not: unproven */
	ROW(LEAVE_PROBE, PROGRESS, g_left, DONE, n_done),
	ROW(LEAVE_PROBE, PROGRESS, NULL, LEAVE_PROBE, NULL),
	ROW(LEAVE_PROBE, PROBED, g_left, DONE, n_done),
	ROW(LEAVE_PROBE, PROBED, g_probe_gone, UNPROVEN, n_probe),
	ROW(LEAVE_PROBE, PROBED, NULL, FAILED, n_probe),
	ROW(LEAVE_PROBE, TIMEOUT, NULL, FAILED, NULL),

	ANY(INTERRUPT, NULL, FAILED, n_interrupted),
	ANY(FATAL, NULL, FAILED, NULL),
};

const struct engine_route route_diy = {
	.name = "diy",
	.stages = stages,
	.nstages = _RDIY_STAGE_MAX,
	.rows = rows,
	.nrows = sizeof(rows) / sizeof(rows[0]),
	.event_names = ev_names,
	.nevents = _RDIY_EV_MAX,
	.initial = RDIY_PREFLIGHT,
	.ev_entered = RDIY_EV_ENTERED,
	.ev_timeout = RDIY_EV_TIMEOUT,
	.ev_fatal = RDIY_EV_FATAL,
};
