/* takeover: see takeover.h; the route's rules are in route-cloud.c, described by
 * docs/stage-machine.md. Runs on the lws loop thread only. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "provision.h"
#include "takeover.h"

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the engine's timers and output ------------------------------------------------ */

/* ---- provisioning (the route's entry/exit actions) --------------------------------- */

static void
prov_done(void *arg, enum prov_result r, const char *deviceid)
{
	struct takeover *t = arg;
	struct prov *p = t->prov;

	/* The run is over: release it (allowed from inside its callback). */
	t->prov = NULL;
	if (deviceid) {
		snprintf(t->prov_deviceid, sizeof(t->prov_deviceid), "%s", deviceid);
		deviceid = t->prov_deviceid;
	}
	prov_cancel(p);
	switch (r) {
	case PROV_OK:
		ui_say(t->ui, "Device %s accepted the WiFi settings and leaves its AP now.",
		       deviceid ? deviceid : "?");
		takeover_post(t, ROUTE_EV_PROV_OK);
		break;
	case PROV_POSTED_NO_REPLY:
		log_notice(t->log, "device %s took the WiFi settings without replying; "
				   "provisioned if its AP now goes away", deviceid ? deviceid : "?");
		takeover_post(t, ROUTE_EV_PROV_NO_REPLY);
		break;
	case PROV_CANCELLED:
		break;
	default:
		log_warn(t->log, "provisioning failed (%d): %s", r,
			 r == PROV_DEVICE_UNREACHABLE ? "no answer from 10.10.7.1"
			 : r == PROV_REJECTED	      ? "the device refused the settings"
						      : "the answer was not a Sonoff's");
		takeover_post(t, ROUTE_EV_PROV_FAILED);
		break;
	}
}

static void
rop_prov_start(void *arg)
{
	struct takeover *t = arg;
	struct prov_opts o = {
		.ssid = t->ssid,
		.password = t->password,
		.server_name = t->serving_host,
		.server_port = t->rc.f.https_port,
	};
	if (t->prov) {
		prov_cancel(t->prov);
		t->prov = NULL;
	}
	int r = prov_start(t->lws, t->vh_loop, &o, t->log, prov_done, t, &t->prov);
	if (r < 0) {
		log_err(t->log, "cannot start provisioning: %s (our bug)", strerror(-r));
		t->exit_code = SONOTA_EXIT_FAILURE;
		takeover_post(t, ROUTE_EV_FATAL);
	}
}

static void
rop_prov_stop(void *arg)
{
	struct takeover *t = arg;
	prov_cancel(t->prov);
	t->prov = NULL;
}

/* ---- the summary ------------------------------------------------------------------- */

/* What happened to one device, as the summary says it. */
static const char *
device_outcome(const struct takeover *t, const struct session_dev *d, unsigned upgraded)
{
	bool delivered = t->tr->delivered;
	if (d->state == SESSION_DEV_UPGRADED) {
		if (delivered && (upgraded == 1 || strcmp(d->deviceid, t->cloud->final_deviceid) == 0))
			return upgraded == 1 ? "DONE: final firmware delivered on FinalStage"
					     : "DONE (most likely: the last one to finish stage 2): "
					       "final firmware delivered on FinalStage";
		return "stage 2 done (intermediate image), FinalStage NOT done in this run: NOT "
		       "done; rerun with --no-prov while its FinalStage is up";
	}
	return "still in stage 2, NOT done; rerun sonota-c (with --no-prov, the device is on "
	       "the WiFi already) to finish it";
}

/* --all: the route's drawer counts follow the drawer (route_cloud_facts) */
static void
drawer_facts(struct takeover *t)
{
	struct route_cloud_facts *f = &t->rc.f;
	f->drawer_open = drawer_open(&t->drawer);
	f->drawer_stage2 = drawer_stage2(&t->drawer);
	f->drawer_final_waiting = drawer_count(&t->drawer, DRAWER_ST_STOCK_DONE);
	f->drawer_all_done = drawer_all_done(&t->drawer);
}

/* The summary line and the JSON event of device i, which just ended. */
static void
say_ended(struct takeover *t, unsigned i)
{
	char line[DRAWER_WHY_MAX + 128];
	if (drawer_summary_line(&t->drawer, i, line, sizeof(line)))
		ui_say(t->ui, "%s", line);
	ui_json(t->ui, "drawer-device", "deviceid", t->drawer.devs[i].deviceid, "outcome",
		drawer_outcome_name(t->drawer.devs[i].outcome), NULL);
}

static void
end_entry(struct takeover *t, unsigned i, int outcome, const char *why)
{
	char w[DRAWER_WHY_MAX];
	enum drawer_state st = t->drawer.devs[i].state;
	/* the run ends: say where the device stopped, and what the run's end was */
	if (why && st != DRAWER_ST_FINAL)
		snprintf(w, sizeof(w), "%s; %s", drawer_state_name(st), why);
	else
		snprintf(w, sizeof(w), "%s", why ? why : "");
	if (drawer_end(&t->drawer, i, (enum drawer_outcome)outcome, w) == 0)
		say_ended(t, i);
}

/* The device being provisioned ended before it took the settings: recorded at once. */
static void
end_current(struct takeover *t, int outcome, const char *why)
{
	static const uint8_t zero[6];
	/* GET /device's answer, else the <id> of the ITEAD-<id> joined */
	const char *id = t->prov_deviceid[0]	      ? t->prov_deviceid
			 : t->rc.f.itead_deviceid[0] ? t->rc.f.itead_deviceid
						     : NULL;
	const uint8_t *mac = memcmp(t->rc.f.itead_bssid, zero, 6) ? t->rc.f.itead_bssid : NULL;
	if (drawer_record(&t->drawer, id, mac, (enum drawer_outcome)outcome, why) == 0)
		say_ended(t, t->drawer.n - 1);
	else
		log_warn(t->log, "--all: more than %d devices: this one is counted, not listed",
			 DRAWER_DEVICES_MAX);
	t->prov_deviceid[0] = '\0';
}

/* --all: devices ended (route_cloud_ops.device_end) */
static void
rop_device_end(void *arg, int which, int outcome, const char *why)
{
	struct takeover *t = arg;
	int i;

	switch (which) {
	case ROUTE_END_CURRENT:
		end_current(t, outcome, why);
		break;
	case ROUTE_END_FINAL:
		if ((i = drawer_final_cur(&t->drawer)) >= 0)
			end_entry(t, (unsigned)i, outcome, why);
		break;
	case ROUTE_END_STAGE2:
	case ROUTE_END_ALL:
		if (which == ROUTE_END_ALL && t->rc.f.dev_started)
			end_current(t, outcome, why);
		for (unsigned k = 0; k < t->drawer.n; k++) {
			enum drawer_state st = t->drawer.devs[k].state;
			if (st == DRAWER_ST_ENDED ||
			    (which == ROUTE_END_STAGE2 && !drawer_in_stage2(&t->drawer.devs[k])))
				continue;
			end_entry(t, k, outcome, why);
		}
		break;
	default:
		break;
	}
	drawer_facts(t);
	/* the route resets its copy (reset_device); the source must follow, else the
	 * next transfers event copies this device's facts back */
	if (which != ROUTE_END_STAGE2)
		transfers_next_device(t->tr);
}

/* --all: the device being provisioned took the settings */
static void
rop_device_provisioned(void *arg)
{
	struct takeover *t = arg;
	struct route_cloud_facts *f = &t->rc.f;
	static const uint8_t zero[6];
	const char *id = t->prov_deviceid[0] ? t->prov_deviceid : f->itead_deviceid;
	const uint8_t *mac = memcmp(f->itead_bssid, zero, 6) ? f->itead_bssid : NULL;
	int i = drawer_add(&t->drawer, id, mac);
	if (i < 0)
		log_warn(t->log, "--all: more than %d devices: this one is counted, not listed",
			 DRAWER_DEVICES_MAX);
	else
		log_notice(t->log, "--all: device %u: %s provisioned; %u device%s in stage 2 "
				   "now", (unsigned)i + 1, id[0] ? id : "(id unknown)",
			   drawer_stage2(&t->drawer), drawer_stage2(&t->drawer) == 1 ? "" : "s");
	t->prov_deviceid[0] = '\0';
	memset(f->itead_bssid, 0, sizeof(f->itead_bssid));
	f->itead_deviceid[0] = '\0';
	drawer_facts(t);
}

/* --all: finalstage entered: whose FinalStage */
static void
rop_final_begin(void *arg)
{
	struct takeover *t = arg;
	int i = drawer_final_next(&t->drawer);
	memset(t->rc.f.final_bssid, 0, sizeof(t->rc.f.final_bssid));
	if (i >= 0) {
		const struct drawer_dev *v = &t->drawer.devs[i];
		memcpy(t->rc.f.final_bssid, v->bssid, 6);
		log_notice(t->log, "--all: FinalStage of device %d: %s (%u more waiting)", i + 1,
			   v->deviceid[0] ? v->deviceid : "(id unknown)",
			   drawer_count(&t->drawer, DRAWER_ST_STOCK_DONE));
	}
	drawer_facts(t);
}

static void
print_drawer(struct takeover *t)
{
	char line[DRAWER_WHY_MAX + 128];
	ui_say(t->ui, "  devices taken over (--all): %u%s", t->drawer.n + t->drawer.dropped,
	       drawer_all_done(&t->drawer) ? ", every one done" : "");
	for (unsigned i = 0; i < t->drawer.n; i++)
		if (drawer_summary_line(&t->drawer, i, line, sizeof(line)))
			ui_say(t->ui, "  %s", line);
	if (t->drawer.dropped)
		ui_say(t->ui, "  and %u more (not listed), %u of them NOT done", t->drawer.dropped,
		       t->drawer.dropped_not_done);
}

static void
print_summary(struct takeover *t)
{
	const struct session_table *st = &t->cloud->sessions;
	unsigned ndev = 0, upgraded = 0;

	ui_say(t->ui, "Summary:");
	if (t->rc.f.drawer)
		print_drawer(t);
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++)
		upgraded += st->devs[i].used && st->devs[i].state == SESSION_DEV_UPGRADED;
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++) {
		const struct session_dev *d = &st->devs[i];
		/* --all: the drawer's lines above say what became of each device */
		if (!d->used || t->rc.f.drawer)
			continue;
		ndev++;
		const char *outcome = device_outcome(t, d, upgraded);
		ui_say(t->ui, "  device %s: model %s, firmware %s, stock stage %s: %s", d->deviceid,
		       d->model[0] ? d->model : "?", d->rom_version[0] ? d->rom_version : "?",
		       session_dev_state_name(d->state), outcome);
		ui_json(t->ui, "summary-device", "deviceid", d->deviceid, "model", d->model,
			"romVersion", d->rom_version, "state", session_dev_state_name(d->state),
			"done", strncmp(outcome, "DONE", 4) == 0 ? "yes" : "no", NULL);
	}
	if (!ndev && !t->rc.f.drawer)
		ui_say(t->ui, "  device: none reached the emulated cloud in this run%s",
		       t->tr->requests ? " (resumed at FinalStage)" : "");
	if (!ndev && t->tr->delivered && !t->rc.f.drawer)
		ui_say(t->ui, "  the device on FinalStage: DONE: final firmware delivered");
	if (t->rc.f.drawer)
		ui_say(t->ui, "  final image: delivered to %u of %u devices",
		       drawer_count_done(&t->drawer), t->drawer.n + t->drawer.dropped);
	else
		ui_say(t->ui, "  final image: %s",
		       t->tr->delivered ? "delivered in full" : "NOT delivered");
	if (t->eng.diagnosis[0])
		ui_say(t->ui, "  why the run ended: %s", t->eng.diagnosis);
	for (int i = 0; i < _IMAGESET_ROLE_MAX; i++) {
		const struct imageset_file *f = &t->images->files[i];
		if (f->name)
			ui_say(t->ui, "  image %s: %zu bytes, sha256 %s", f->name, f->size,
			       f->info.sha256_hex);
	}
	for (int s = 0; s < _ROUTE_STAGE_MAX; s++)
		if (t->stage_ms[s])
			ui_say(t->ui, "  time in %s: %.1f s", engine_stage_name(&route_cloud, s),
			       (double)t->stage_ms[s] / 1000.0);
	ui_say(t->ui, "  total: %.1f s", (double)(mono_ms() - t->start_ms) / 1000.0);
}

static void
rop_finish(void *arg, bool success, bool interrupted)
{
	struct takeover *t = arg;
	/* The loop may be about to block in poll (a timer brought us here): wake it so
	 * that the composition sees the end now. */
	lws_cancel_service(t->lws);
	int64_t now = mono_ms();
	t->stage_ms[t->acct_stage] += now - t->stage_since_ms;
	t->stage_since_ms = now;
	print_summary(t);
	if (t->rc.f.drawer) {
		/* --all: 0 only if every device taken over is done */
		bool all = drawer_all_done(&t->drawer);
		if (all)
			ui_say(t->ui, "Done: every device (%u) runs the new firmware.", t->drawer.n);
		t->exit_code = all ? SONOTA_EXIT_OK
			       : interrupted && !success ? SONOTA_EXIT_INTERRUPTED
			       : t->exit_code		 ? t->exit_code
							 : SONOTA_EXIT_FAILURE;
	} else if (success) {
		ui_say(t->ui, "Done: the device runs the new firmware. (If it is Tasmota, it opens "
			      "a WiFi \"sonoff-XXXX\" for its own set-up.)");
		t->exit_code = SONOTA_EXIT_OK;
	} else if (interrupted) {
		t->exit_code = SONOTA_EXIT_INTERRUPTED;
	} else if (!t->exit_code) {
		t->exit_code = SONOTA_EXIT_FAILURE;
	}
}

static const struct route_cloud_ops route_ops = {
	.prov_start = rop_prov_start, .prov_stop = rop_prov_stop, .finish = rop_finish,
	.device_end = rop_device_end, .device_provisioned = rop_device_provisioned,
	.final_begin = rop_final_begin,
};

/* ---- observers: time per stage, the checklist, the JSON stage event ---------------- */

/* The steps of a takeover as the user sees them, for the terminal checklist. */
static const struct {
	const char *label;
	enum route_stage first, last; /* the stages that make up the step */
} steps[] = {
	{ "pre-flight", ROUTE_PREFLIGHT, ROUTE_PREFLIGHT },
	{ "provisioning", ROUTE_WAIT_AP, ROUTE_LOOK_NEXT },
	{ "home WiFi", ROUTE_WAIT_HOME, ROUTE_WAIT_HOME },
	{ "emulated cloud", ROUTE_WAIT_CALL, ROUTE_SERVING },
	{ "FinalStage", ROUTE_FINALSTAGE, ROUTE_FINAL_DELIVERED },
	{ "done", ROUTE_DONE, ROUTE_DONE },
};

static void
observe(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct takeover *t = arg;
	(void)e, (void)ev;
	if (from == to)
		return;
	/* --all: a device gets its upgrade only while this computer stays home (wait-call,
	 * serving): anywhere else it may leave the home WiFi, which would cut the
	 * download (session_env.hold_upgrade) */
	if (t->rc.f.drawer)
		t->cloud->hold_upgrade = to != ROUTE_WAIT_CALL && to != ROUTE_SERVING;
	int64_t now = mono_ms();
	if (!route_cloud.stages[to].terminal) { /* finish() accounted for the last one */
		t->stage_ms[from] += now - t->stage_since_ms;
		t->stage_since_ms = now;
		t->acct_stage = to;
	}
	ui_json(t->ui, "stage", "stage", engine_stage_name(&route_cloud, to), NULL);
	if (!t->ui->tty || to == ROUTE_FAILED)
		return;
	char line[256];
	size_t off = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && off < sizeof(line); i++) {
		const char *mark = to > (int)steps[i].last ? "x" : to >= (int)steps[i].first ? ">" : " ";
		if (i == 1 && t->cfg->no_prov)
			mark = "-"; /* skipped */
		int w = snprintf(line + off, sizeof(line) - off, "%s[%s] %s", i ? "  " : "", mark,
				 steps[i].label);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	ui_say(t->ui, "%s", line);
}

/* ---- events from the other modules -------------------------------------------------- */

void
takeover_post(struct takeover *t, enum route_ev ev)
{
	engine_post(&t->eng, (int)ev);
}

void
takeover_cloud_event(void *arg, enum cloud_event ev)
{
	struct takeover *t = arg;
	t->rc.f.devices = peers_devices(t->cloud->peers);
	if (t->rc.f.drawer) {
		/* where each device is, before the route reads the counts */
		const struct session_table *st = &t->cloud->sessions;
		for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++)
			if (st->devs[i].used && st->devs[i].deviceid[0] &&
			    drawer_cloud(&t->drawer, st->devs[i].deviceid,
					 st->devs[i].state == SESSION_DEV_UPGRADED) == -ENOSPC)
				log_debug(t->log, "--all: more than %d devices: %s is not "
						  "followed", DRAWER_DEVICES_MAX,
					  st->devs[i].deviceid);
		drawer_facts(t);
	}
	takeover_post(t, ev == CLOUD_STOCK_DONE ? ROUTE_EV_STOCK_DONE : ROUTE_EV_DEVICE_SEEN);
}

void
takeover_transfers_event(void *arg, enum transfers_event ev)
{
	struct takeover *t = arg;
	t->rc.f.user2_delivered = t->tr->user2_delivered;
	t->rc.f.final_inflight = t->tr->inflight;
	switch (ev) {
	case TRANSFERS_E2A_REQUEST:
		takeover_post(t, ROUTE_EV_E2A_REQUEST);
		break;
	case TRANSFERS_FINAL_DELIVERED:
		takeover_post(t, ROUTE_EV_FINAL_DELIVERED);
		break;
	case TRANSFERS_DEVICE_SEEN:
		takeover_post(t, ROUTE_EV_DEVICE_SEEN);
		break;
	default:
		break; /* facts only */
	}
}

void
takeover_addr(void *arg, bool added, const struct netwatch_addr *a)
{
	struct takeover *t = arg;
	struct route_cloud_facts *f = &t->rc.f;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a->addr, ip, sizeof(ip));
	log_debug(t->log, "address %s %s/%u on %s", added ? "added" : "removed", ip, a->prefixlen,
		  a->ifname);
	/* Recorded from the start (the initial dump), fed to the route after start. */
	bool started = t->eng.cur != ROUTE_PREFLIGHT;

	if (netwatch_is_device_ap(a->addr)) {
		if (f->have_ap == added)
			return;
		f->have_ap = added;
		if (added) {
			f->prov_runs = 0; /* a new pairing AP session */
			f->posted_unanswered = false;
		} else {
			f->post_sent = prov_post_sent(t->prov);
		}
		log_notice(t->log, "this computer %s the device's WiFi (%s)",
			   added ? "joined" : "left", ip);
		if (started)
			takeover_post(t, added ? ROUTE_EV_AP_UP : ROUTE_EV_AP_DOWN);
	} else if (netwatch_is_finalstage(a->addr)) {
		if (f->have_final == added)
			return;
		f->have_final = added;
		log_notice(t->log, "this computer %s FinalStage (192.168.4.2)",
			   added ? "joined" : "left");
		if (!added && t->eng.cur == ROUTE_FINALSTAGE && t->tr->inflight)
			ui_say(t->ui, "FinalStage went away during a download; its outcome decides "
				      "what comes next.");
		else if (!added && t->eng.cur == ROUTE_FINALSTAGE)
			ui_say(t->ui, t->tr->user2_delivered
					      ? "FinalStage went away: expected, the device reboots "
						"into the image it just wrote. Rejoin FinalStage when it "
						"comes back."
					      : "FinalStage went away before image_arduino.bin was "
						"delivered. Rejoin FinalStage; sonota-c keeps waiting.");
		if (started)
			takeover_post(t, added ? ROUTE_EV_FINAL_UP : ROUTE_EV_FINAL_DOWN);
	} else if ((ntohl(a->addr.s_addr) & 0xffffff00u) == 0xc0a80400u && added &&
		   t->eng.cur == ROUTE_FINALSTAGE) {
		/* 192.168.4.x but not .2: another client joined FinalStage first. */
		ui_say(t->ui, "This computer got %s on what looks like FinalStage, but the device "
			      "only talks to 192.168.4.2: another client (a phone?) took it. Make it "
			      "leave FinalStage and rejoin, or set 192.168.4.2 by hand.", ip);
	} else if ((t->cfg->serving_host && a->addr.s_addr == htonl(t->cfg->serving_addr)) ||
		   (!t->cfg->serving_host && t->serving_host && strcmp(ip, t->serving_host) == 0)) {
		if (f->have_home == added)
			return;
		f->have_home = added;
		f->home_ifindex = added ? a->ifindex : 0;
		log_notice(t->log, "this computer %s the serving address %s",
			   added ? "has" : "lost", ip);
		if (started)
			takeover_post(t, added ? ROUTE_EV_HOME_UP : ROUTE_EV_HOME_DOWN);
	}
}

/* ---- life cycle --------------------------------------------------------------------- */

void
takeover_init(struct takeover *t)
{
	memset(t, 0, sizeof(*t));
	t->start_ms = t->stage_since_ms = mono_ms();
	t->rc.ops = &route_ops;
	t->rc.arg = t;
	engine_init(&t->eng, &route_cloud, &t->rc, &engine_lws_ops, &t->el);
	engine_observe(&t->eng, observe, t);
	drawer_init(&t->drawer);
}

void
takeover_start(struct takeover *t)
{
	struct route_cloud_facts *f = &t->rc.f;
	f->no_prov = t->cfg->no_prov;
	f->no_check_ip = t->cfg->no_check_ip;
	f->call_timeout_s = t->cfg->call_timeout;
	f->wait_timeout_s = t->cfg->wait_timeout;
	f->done_timeout_s = t->cfg->done_timeout;
	f->ssid = t->ssid;
	f->serving_host = t->serving_host;
	f->drawer = t->cfg->all;
	t->cloud->hold_upgrade = f->drawer;
	takeover_post(t, t->cfg->no_prov ? ROUTE_EV_START_NO_PROV : ROUTE_EV_START);
}

struct engine *
takeover_engine(struct takeover *t)
{
	return &t->eng;
}

bool
takeover_ended(const struct takeover *t)
{
	return engine_is_terminal(&t->eng);
}

void
takeover_fini(struct takeover *t)
{
	engine_lws_fini(&t->el);
	prov_cancel(t->prov);
	t->prov = NULL;
}
