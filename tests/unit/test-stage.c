/* Unit tests of the first route (src/route-cloud.c) run by the engine with a fake
 * adapter and a fake clock: the paths of docs/stage-machine.md, the rules that used
 * to be hard-coded in sonota.c (an unanswered POST /ap followed by the AP going away
 * counts as provisioned; the follow-ups of a stage entered while its condition holds),
 * the bounded retries, the time limits with their diagnoses, and the invariants of
 * the table. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "drawer.h"
#include "fakeclock.h"
#include "route-cloud.h"

/* ---- the fake adapter ------------------------------------------------------------- */

#define SAID_MAX 64

struct fake {
	FAKECLOCK; /* first: the ops' arg is the clock's */
	struct engine e;
	struct route_cloud rc;
	char said[SAID_MAX][ENGINE_TEXT_MAX];
	unsigned nsaid;
	unsigned prov_starts, prov_stops, finishes;
	bool success, interrupted;
	/* drawer: kept as the adapter (src/takeover.c) keeps it; the devices ended, in
	 * the order device_end ended them */
	struct drawer dr;
	unsigned nend;
	int end_outcome[8];
	char end_why[8][ENGINE_TEXT_MAX];
	char end_id[8][DRAWER_ID_MAX];
};

static void
f_narrate(void *arg, const char *from, const char *ev, const char *to)
{
	(void)arg, (void)from, (void)ev, (void)to;
}

static void
f_say(void *arg, const char *text)
{
	struct fake *f = arg;
	if (f->nsaid < SAID_MAX)
		snprintf(f->said[f->nsaid++], sizeof(f->said[0]), "%s", text);
}

static void
f_bug(void *arg, const char *text)
{
	(void)arg, (void)text;
	CHECK_MSG(0, "engine bug: %s", text);
}

static const struct engine_ops fake_ops = { fakeclock_arm, fakeclock_cancel, f_narrate,
					   f_say, f_bug, NULL };

static void
r_prov_start(void *arg)
{
	((struct fake *)arg)->prov_starts++;
}

static void
r_prov_stop(void *arg)
{
	((struct fake *)arg)->prov_stops++;
}

static void
r_finish(void *arg, bool success, bool interrupted)
{
	struct fake *f = arg;
	f->finishes++;
	f->success = success;
	f->interrupted = interrupted;
}

/* drawer: as the adapter does, keep the drawer and the route's counts */
static void
f_counts(struct fake *f)
{
	struct route_cloud_facts *rf = &f->rc.f;
	rf->drawer_open = drawer_open(&f->dr);
	rf->drawer_stage2 = drawer_stage2(&f->dr);
	rf->drawer_final_waiting = drawer_count(&f->dr, DRAWER_ST_STOCK_DONE);
	rf->drawer_all_done = drawer_all_done(&f->dr);
}

static void
f_ended(struct fake *f, const char *id, int outcome, const char *why)
{
	if (f->nend < 8) {
		f->end_outcome[f->nend] = outcome;
		snprintf(f->end_why[f->nend], sizeof(f->end_why[0]), "%s", why ? why : "");
		snprintf(f->end_id[f->nend], sizeof(f->end_id[0]), "%s", id ? id : "");
		f->nend++;
	}
}

static void
r_device_end(void *arg, int which, int outcome, const char *why)
{
	struct fake *f = arg;
	CHECK_MSG(f->finishes == 0, "device_end after finish");
	int i;
	switch (which) {
	case ROUTE_END_CURRENT:
		CHECK(f->rc.f.dev_started);
		drawer_record(&f->dr, f->rc.f.itead_deviceid, NULL, outcome, why);
		f_ended(f, f->rc.f.itead_deviceid, outcome, why);
		break;
	case ROUTE_END_FINAL:
		i = drawer_final_cur(&f->dr);
		CHECK_MSG(i >= 0, "final device ended, but none is on FinalStage");
		if (i >= 0) {
			drawer_end(&f->dr, (unsigned)i, outcome, why);
			f_ended(f, f->dr.devs[i].deviceid, outcome, why);
		}
		break;
	default:
		if (which == ROUTE_END_ALL && f->rc.f.dev_started) {
			drawer_record(&f->dr, f->rc.f.itead_deviceid, NULL, outcome, why);
			f_ended(f, f->rc.f.itead_deviceid, outcome, why);
		}
		for (unsigned k = 0; k < f->dr.n; k++) {
			enum drawer_state st = f->dr.devs[k].state;
			if (st == DRAWER_ST_ENDED ||
			    (which == ROUTE_END_STAGE2 && !drawer_in_stage2(&f->dr.devs[k])))
				continue;
			drawer_end(&f->dr, k, outcome, why);
			f_ended(f, f->dr.devs[k].deviceid, outcome, why);
		}
		break;
	}
	f_counts(f);
}

static void
r_device_provisioned(void *arg)
{
	struct fake *f = arg;
	CHECK(drawer_add(&f->dr, f->rc.f.itead_deviceid, f->rc.f.itead_bssid) >= 0);
	f_counts(f);
}

static void
r_final_begin(void *arg)
{
	struct fake *f = arg;
	int i = drawer_final_next(&f->dr);
	memset(f->rc.f.final_bssid, 0, 6);
	if (i >= 0)
		memcpy(f->rc.f.final_bssid, f->dr.devs[i].bssid, 6);
	f_counts(f);
}

/* The emulated cloud heard from device id (as takeover_cloud_event) */
static void
f_cloud(struct fake *f, const char *id, bool stock_done)
{
	CHECK(drawer_cloud(&f->dr, id, stock_done) >= 0);
	f_counts(f);
	f->rc.f.devices = f->dr.n;
	engine_post(&f->e, stock_done ? ROUTE_EV_STOCK_DONE : ROUTE_EV_DEVICE_SEEN);
}

static const struct route_cloud_ops fake_route_ops = { r_prov_start, r_prov_stop, r_finish,
						       r_device_end, r_device_provisioned,
						       r_final_begin };

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fakeclock_init(&f->clock);
	drawer_init(&f->dr);
	f->rc.ops = &fake_route_ops;
	f->rc.arg = f;
	f->rc.f.call_timeout_s = 300;
	f->rc.f.wait_timeout_s = 900;
	f->rc.f.done_timeout_s = 30;
	f->rc.f.ssid = "home";
	f->rc.f.serving_host = "192.168.1.10";
	f->rc.f.https_port = 8443;
	f->rc.f.http_port = 8080;
	engine_init(&f->e, &route_cloud, &f->rc, &fake_ops, f);
}

static void
fake_advance(struct fake *f, long long ms)
{
	fakeclock_advance(&f->clock, &f->e, ms);
}

/* ---- paths ------------------------------------------------------------------------ */

/* A step: change facts (as the adapter does before it posts), then post ev. */
enum fact_op { NONE, AP_ON, AP_OFF, HOME_ON, HOME_OFF, FINAL_ON, FINAL_OFF, SEEN, POSTED,
	       NOCHECK, NOPROV };

struct step {
	enum fact_op op;
	int ev;   /* -1: facts only */
	int want; /* stage after the step */
};

#define PATH_MAX_STEPS 16
struct path_case {
	const char *name;
	struct step s[PATH_MAX_STEPS];
	unsigned n;
};

#define ROUTE_EV_FACTS (-1) /* a step that only changes facts */
#define S(op, ev, st) { op, ROUTE_EV_##ev, ROUTE_##st }
static const struct path_case paths[] = {
	{ "full takeover, device on user1",
	  { S(NONE, START, WAIT_AP), S(AP_ON, AP_UP, PROVISIONING), S(NONE, PROV_OK, WAIT_HOME),
	    S(AP_OFF, AP_DOWN, WAIT_HOME), S(HOME_ON, HOME_UP, WAIT_CALL),
	    S(SEEN, DEVICE_SEEN, SERVING), S(SEEN, DEVICE_SEEN, SERVING),
	    S(NONE, STOCK_DONE, FINALSTAGE), S(HOME_OFF, HOME_DOWN, FINALSTAGE),
	    S(FINAL_ON, FINAL_UP, FINALSTAGE), S(NONE, E2A_REQUEST, FINALSTAGE),
	    S(NONE, FINAL_DELIVERED, FINAL_DELIVERED), S(FINAL_OFF, FINAL_DOWN, DONE) },
	  13 },
	/* The old test asserted wait-ap here: the AP going away after an unanswered POST
	 * is the device leaving with the settings, so the route goes on to wait-home. */
	{ "POST without reply, then the AP goes: provisioned",
	  { S(NONE, START, WAIT_AP), S(AP_ON, AP_UP, PROVISIONING),
	    S(NONE, PROV_NO_REPLY, POSTED), S(AP_OFF, AP_DOWN, WAIT_HOME),
	    S(HOME_ON, HOME_UP, WAIT_CALL) },
	  5 },
	{ "POST without reply after the AP went: provisioned at once",
	  { S(AP_ON, START, PROVISIONING), S(AP_OFF, FACTS, PROVISIONING),
	    S(NONE, PROV_NO_REPLY, WAIT_HOME) },
	  3 },
	{ "the AP goes while the POST is out: provisioned",
	  { S(AP_ON, START, PROVISIONING), S(POSTED, FACTS, PROVISIONING),
	    S(AP_OFF, AP_DOWN, WAIT_HOME) },
	  3 },
	{ "the AP goes during the run after an unanswered POST: provisioned",
	  { S(AP_ON, START, PROVISIONING), S(NONE, PROV_NO_REPLY, POSTED),
	    S(NONE, TIMEOUT, PROVISIONING), S(AP_OFF, AP_DOWN, WAIT_HOME) },
	  4 },
	{ "the AP goes before anything was posted: long-press again",
	  { S(NONE, START, WAIT_AP), S(AP_ON, AP_UP, PROVISIONING), S(AP_OFF, AP_DOWN, WAIT_AP),
	    S(AP_ON, AP_UP, PROVISIONING), S(NONE, PROV_OK, WAIT_HOME) },
	  5 },
	{ "--no-prov resumed at FinalStage (follow-up on entry)",
	  { S(FINAL_ON, FACTS, PREFLIGHT), S(NOPROV, START_NO_PROV, FINALSTAGE),
	    S(NONE, FINAL_DELIVERED, FINAL_DELIVERED), S(FINAL_OFF, FINAL_DOWN, DONE) },
	  4 },
	{ "--no-prov, home address present: waiting for the call at once",
	  { S(HOME_ON, FACTS, PREFLIGHT), S(NOPROV, START_NO_PROV, WAIT_CALL),
	    S(SEEN, DEVICE_SEEN, SERVING) },
	  3 },
	{ "FinalStage gone while the delivery was confirmed: done on entry",
	  { S(NOCHECK, START_NO_PROV, WAIT_CALL), S(FINAL_ON, FINAL_UP, FINALSTAGE),
	    S(FINAL_OFF, FACTS, FINALSTAGE), S(NONE, FINAL_DELIVERED, FINAL_DELIVERED) },
	  4 },
	{ "back home after a device was seen: serving again",
	  { S(HOME_ON, FACTS, PREFLIGHT), S(NOPROV, START_NO_PROV, WAIT_CALL),
	    S(SEEN, DEVICE_SEEN, SERVING), S(HOME_OFF, HOME_DOWN, WAIT_HOME),
	    S(HOME_ON, HOME_UP, SERVING) },
	  5 },
	{ "delivery is not possible before FinalStage",
	  { S(HOME_ON, FACTS, PREFLIGHT), S(NOPROV, START_NO_PROV, WAIT_CALL),
	    S(NONE, FINAL_DELIVERED, WAIT_CALL), S(NONE, PROV_OK, WAIT_CALL) },
	  4 },
	{ "an interrupt after delivery is a success",
	  { S(FINAL_ON, START_NO_PROV, FINALSTAGE), S(NONE, FINAL_DELIVERED, FINAL_DELIVERED),
	    S(NONE, INTERRUPT, DONE) },
	  3 },
	{ "an interrupt before delivery is a failure",
	  { S(FINAL_ON, START_NO_PROV, FINALSTAGE), S(NONE, E2A_REQUEST, FINALSTAGE),
	    S(NONE, INTERRUPT, FAILED) },
	  3 },
	{ "nothing leaves DONE",
	  { S(FINAL_ON, START_NO_PROV, FINALSTAGE), S(NONE, FINAL_DELIVERED, FINAL_DELIVERED),
	    S(FINAL_OFF, FINAL_DOWN, DONE), S(FINAL_ON, FINAL_UP, DONE), S(NONE, FATAL, DONE) },
	  5 },
	{ "events before start are rejected",
	  { S(AP_ON, AP_UP, PREFLIGHT), S(HOME_ON, HOME_UP, PREFLIGHT),
	    S(NONE, START, PROVISIONING) },
	  3 },
};
#undef S

static void
apply(struct route_cloud_facts *f, enum fact_op op)
{
	switch (op) {
	case AP_ON: f->have_ap = true; f->prov_runs = 0; f->posted_unanswered = false; break;
	case AP_OFF: f->have_ap = false; break;
	case HOME_ON: f->have_home = true; break;
	case HOME_OFF: f->have_home = false; break;
	case FINAL_ON: f->have_final = true; break;
	case FINAL_OFF: f->have_final = false; break;
	case SEEN: f->devices = 1; break;
	case POSTED: f->post_sent = true; break;
	case NOCHECK: f->no_check_ip = true; f->no_prov = true; break;
	case NOPROV: f->no_prov = true; break;
	default: break;
	}
}

static void
test_paths(void)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct path_case *c = &paths[i];
		struct fake f;
		fake_init(&f);
		for (unsigned k = 0; k < c->n; k++) {
			apply(&f.rc.f, c->s[k].op);
			if (c->s[k].ev >= 0)
				CHECK_INT(engine_post(&f.e, c->s[k].ev), 0);
			CHECK_MSG(f.e.cur == c->s[k].want, "%s: step %u (%s): in %s, want %s",
				  c->name, k, engine_event_name(&route_cloud, c->s[k].ev),
				  engine_stage_name(&route_cloud, f.e.cur),
				  engine_stage_name(&route_cloud, c->s[k].want));
		}
	}
}

static bool
said(const struct fake *f, const char *needle)
{
	for (unsigned i = 0; i < f->nsaid; i++)
		if (strstr(f->said[i], needle))
			return true;
	return false;
}

/* The commonest user error: a wrong password. The device left with the settings and
 * never calls: one notice within ROUTE_NOTICE_MAX_S, the failure at --call-timeout. */
static void
test_no_call(void)
{
	struct fake f;
	fake_init(&f);
	apply(&f.rc.f, AP_ON);
	engine_post(&f.e, ROUTE_EV_START);
	engine_post(&f.e, ROUTE_EV_PROV_OK);
	apply(&f.rc.f, AP_OFF);
	apply(&f.rc.f, HOME_ON);
	engine_post(&f.e, ROUTE_EV_AP_DOWN);
	engine_post(&f.e, ROUTE_EV_HOME_UP);
	CHECK_INT(f.e.cur, ROUTE_WAIT_CALL);
	CHECK(f.rc.f.provisioned);
	CHECK_INT(f.deadline[ENGINE_TIMER_LIMIT] - f.now_ms, 300 * 1000);
	CHECK_INT(f.deadline[ENGINE_TIMER_NOTICE] - f.now_ms, ROUTE_NOTICE_MAX_S * 1000);
	fake_advance(&f, (ROUTE_NOTICE_MAX_S - 1) * 1000);
	CHECK(!said(&f, "has not called"));
	fake_advance(&f, 1000);
	unsigned notices = 0;
	for (unsigned i = 0; i < f.nsaid; i++)
		notices += strstr(f.said[i], "has not called") != NULL;
	CHECK_INT(notices, 1);
	/* The causes, in this order, and what to do. */
	const char *line = NULL;
	for (unsigned i = 0; i < f.nsaid; i++)
		if (strstr(f.said[i], "has not called"))
			line = f.said[i];
	CHECK(line != NULL);
	if (line) {
		const char *order[] = { "password", "SSID", "5 GHz", "isolation", "port 8443",
					"pairing mode", "rerun" };
		const char *at = line;
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
			const char *p = strstr(at, order[k]);
			CHECK_MSG(p != NULL, "\"%s\" missing or out of order in: %s", order[k], line);
			if (p)
				at = p;
		}
	}
	fake_advance(&f, 300 * 1000);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK_INT(f.finishes, 1);
	CHECK(!f.success);
	CHECK(strstr(f.e.diagnosis, "within 300 s (--call-timeout)") != NULL);
	CHECK(strstr(f.e.diagnosis, "password") != NULL);
	CHECK(strstr(f.e.diagnosis, "then rerun sonota-c.") != NULL); /* not cut */
	/* A short limit: the notice at half of it. */
	fake_init(&f);
	f.rc.f.call_timeout_s = 10;
	f.rc.f.provisioned = true;
	f.rc.f.have_home = true;
	f.rc.f.no_prov = true;
	engine_post(&f.e, ROUTE_EV_START_NO_PROV);
	CHECK_INT(f.e.cur, ROUTE_WAIT_CALL);
	CHECK_INT(f.deadline[ENGINE_TIMER_NOTICE], 5000);
	CHECK_INT(f.deadline[ENGINE_TIMER_LIMIT], 10000);
}

/* An unanswered POST /ap while the AP stays up: bounded runs, then a clear failure. */
static void
test_post_unanswered(void)
{
	struct fake f;
	fake_init(&f);
	apply(&f.rc.f, AP_ON);
	engine_post(&f.e, ROUTE_EV_START);
	CHECK_INT(f.e.cur, ROUTE_PROVISIONING);
	for (unsigned run = 1; run <= ROUTE_PROV_RUNS_MAX; run++) {
		CHECK_INT(f.prov_starts, run);
		engine_post(&f.e, ROUTE_EV_PROV_NO_REPLY);
		CHECK_INT(f.e.cur, ROUTE_POSTED);
		CHECK_INT(f.deadline[ENGINE_TIMER_LIMIT] - f.now_ms, ROUTE_NO_REPLY_WAIT_S * 1000);
		fake_advance(&f, ROUTE_NO_REPLY_WAIT_S * 1000);
	}
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK_INT(f.prov_starts, ROUTE_PROV_RUNS_MAX);
	CHECK(said(&f, "Provisioning again (run 2 of"));
	CHECK(strstr(f.e.diagnosis, "never answered POST /ap") != NULL);
	CHECK_INT(f.finishes, 1);

	/* Failed runs while the AP stays: a pause, then again; bounded likewise. */
	fake_init(&f);
	apply(&f.rc.f, AP_ON);
	engine_post(&f.e, ROUTE_EV_START);
	for (unsigned run = 1; run < ROUTE_PROV_RUNS_MAX; run++) {
		engine_post(&f.e, ROUTE_EV_PROV_FAILED);
		CHECK_INT(f.e.cur, ROUTE_PROV_PAUSE);
		CHECK_INT(f.prov_stops, run);
		fake_advance(&f, ROUTE_PROV_RETRY_S * 1000);
		CHECK_INT(f.e.cur, ROUTE_PROVISIONING);
	}
	engine_post(&f.e, ROUTE_EV_PROV_FAILED);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(strstr(f.e.diagnosis, "Provisioning failed") != NULL);
}

/* Every waiting stage has a limit, an instruction, and a diagnosis when it fails on it. */
static void
test_limits(void)
{
	struct fake f;
	fake_init(&f);
	for (int s = 0; s < _ROUTE_STAGE_MAX; s++) {
		const struct engine_stage *st = &route_cloud.stages[s];
		if (st->terminal || s == ROUTE_PREFLIGHT)
			continue;
		CHECK_MSG(st->limit_s && st->limit_s(&f.rc) > 0, "%s has no time limit", st->name);
		CHECK_MSG(st->instruction != NULL, "%s has no instruction", st->name);
		const struct engine_row *r = engine_match(&route_cloud, s, ROUTE_EV_TIMEOUT, &f.rc);
		CHECK_MSG(r != NULL, "%s ignores its own time limit", st->name);
		if (r && route_cloud.stages[r->to].terminal && !route_cloud.stages[r->to].success)
			CHECK_MSG(r->note || st->expiry, "%s fails on its limit without a reason",
				  st->name);
	}
	/* The limits come from the options. */
	f.rc.f.wait_timeout_s = 77;
	CHECK_INT(route_cloud.stages[ROUTE_WAIT_AP].limit_s(&f.rc), 77);
	CHECK_INT(route_cloud.stages[ROUTE_FINAL_DELIVERED].limit_s(&f.rc), 30);
	/* wait-ap expires: failed, with the reason in the summary's diagnosis. */
	engine_post(&f.e, ROUTE_EV_START);
	fake_advance(&f, 77 * 1000);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(strstr(f.e.diagnosis, "did not join the device's WiFi") != NULL);
	/* final-delivered expires: done. */
	fake_init(&f);
	f.rc.f.have_final = true;
	engine_post(&f.e, ROUTE_EV_START_NO_PROV);
	engine_post(&f.e, ROUTE_EV_FINAL_DELIVERED);
	fake_advance(&f, 30 * 1000);
	CHECK_INT(f.e.cur, ROUTE_DONE);
	CHECK(f.success);
}

static void
test_invariants(void)
{
	struct fake f;
	fake_init(&f);
	for (int s = 0; s < _ROUTE_STAGE_MAX; s++) {
		const char *n = engine_stage_name(&route_cloud, s);
		CHECK_MSG(strcmp(n, "invalid") != 0, "stage %d has no name", s);
		bool term = route_cloud.stages[s].terminal;
		for (int e = 0; e < _ROUTE_EV_MAX; e++) {
			const struct engine_row *r = engine_match(&route_cloud, s, e, &f.rc);
			if (term)
				CHECK_MSG(!r, "terminal %s accepts %s", n,
					  engine_event_name(&route_cloud, e));
		}
		if (!term) {
			CHECK_MSG(engine_match(&route_cloud, s, ROUTE_EV_INTERRUPT, &f.rc) != NULL,
				  "%s ignores interrupt", n);
			const struct engine_row *r = engine_match(&route_cloud, s, ROUTE_EV_FATAL,
								  &f.rc);
			CHECK_MSG(r && r->to == ROUTE_FAILED, "%s: fatal must fail", n);
		}
	}
	for (int e = 0; e < _ROUTE_EV_MAX; e++)
		CHECK_MSG(strcmp(engine_event_name(&route_cloud, e), "invalid") != 0,
			  "event %d has no name", e);
	/* Only FINAL_DELIVERED reaches DONE: success needs the final image delivered. */
	for (unsigned i = 0; i < route_cloud.nrows; i++) {
		const struct engine_row *r = &route_cloud.rows[i];
		CHECK_MSG(r->to >= 0 && r->to < _ROUTE_STAGE_MAX, "row %u: bad target", i);
		/* drawer: next-device -> done only when every device is done */
		if (r->to == ROUTE_DONE)
			CHECK_MSG(r->from == ROUTE_FINAL_DELIVERED ||
					  (r->from == ROUTE_NEXT_DEVICE && r->guard &&
					   !r->guard(&f.rc)),
				  "row %u: %s -> done", i,
				  engine_stage_name(&route_cloud, r->from));
	}
	/* Every stage is the target of some row (reachable). */
	for (int s = 0; s < _ROUTE_STAGE_MAX; s++) {
		bool target = s == route_cloud.initial;
		for (unsigned i = 0; i < route_cloud.nrows; i++)
			target |= route_cloud.rows[i].to == s;
		CHECK_MSG(target, "stage %s is unreachable", engine_stage_name(&route_cloud, s));
	}
}

/* The instructions say who hops: in --wifi auto (hops_auto, set by the hop driver)
 * the user only presses the button and sonota-c joins the networks; in manual mode
 * the user joins them, as before. Every stage that tells the user to join or
 * reconnect by hand says so only in manual mode. */
static void
test_auto_texts(void)
{
	static const int hand[] = { ROUTE_WAIT_AP, ROUTE_PROVISIONING, ROUTE_PROV_PAUSE,
				    ROUTE_WAIT_HOME, ROUTE_FINALSTAGE };
	struct fake f;
	char buf[ENGINE_TEXT_MAX];

	fake_init(&f);
	for (int a = 0; a < 2; a++) {
		f.rc.f.hops_auto = a;
		for (size_t i = 0; i < sizeof(hand) / sizeof(hand[0]); i++) {
			const struct engine_stage *st = &route_cloud.stages[hand[i]];
			CHECK(st->instruction(&f.rc, buf, sizeof(buf)));
			bool by_hand = strstr(buf, "join this computer") ||
				       strstr(buf, "keep this computer on") ||
				       strstr(buf, "reconnect this computer") ||
				       strstr(buf, "password 12345678");
			CHECK_MSG(by_hand == !a, "%s (%s): %s", st->name, a ? "auto" : "manual",
				  buf);
			if (a && (hand[i] == ROUTE_WAIT_AP || hand[i] == ROUTE_WAIT_HOME ||
				  hand[i] == ROUTE_FINALSTAGE))
				CHECK_MSG(strstr(buf, "sonota-c") != NULL, "%s: %s", st->name, buf);
		}
		CHECK(route_cloud.stages[ROUTE_WAIT_AP].expiry(&f.rc, buf, sizeof(buf)));
		CHECK_MSG((strstr(buf, "join ITEAD-<id> when told") != NULL) == !a, "%s", buf);
	}
	/* Through the engine: the wait-ap instruction said on entry. */
	fake_init(&f);
	f.rc.f.hops_auto = true;
	engine_post(&f.e, ROUTE_EV_START);
	CHECK_INT(f.e.cur, ROUTE_WAIT_AP);
	fake_advance(&f, ENGINE_SETTLE_MS);
	CHECK(said(&f, "hold the device's button"));
	CHECK(said(&f, "sonota-c joins its WiFi \"ITEAD-<id>\" itself"));
	CHECK(!said(&f, "password 12345678"));
	fake_init(&f);
	engine_post(&f.e, ROUTE_EV_START);
	fake_advance(&f, ENGINE_SETTLE_MS);
	CHECK(said(&f, "then join this computer to the WiFi \"ITEAD-<id>\", password 12345678"));
	CHECK(!said(&f, "itself"));
}

/* ---- drawer (--all): look-next, next-device --------------------------------------- */

/* The hop driver joined ITEAD-<id> of device n (BSSID ..:0n): the facts it writes,
 * then the address. */
static void
drawer_join(struct fake *f, int n)
{
	snprintf(f->rc.f.itead_deviceid, sizeof(f->rc.f.itead_deviceid), "100000000%d", n);
	const uint8_t mac[6] = { 0xd8, 0xf1, 0x5b, 0, 0, (uint8_t)n };
	memcpy(f->rc.f.itead_bssid, mac, 6);
	f->rc.f.have_ap = true;
	f->rc.f.prov_runs = 0;
	engine_post(&f->e, ROUTE_EV_AP_UP);
	CHECK_INT(f->e.cur, ROUTE_PROVISIONING);
}

/* Device n provisioned: look-next; the AP goes; as the adapter does, the facts of the
 * device being provisioned are cleared once it is in the drawer. */
static void
drawer_provision(struct fake *f, int n)
{
	drawer_join(f, n);
	engine_post(&f->e, ROUTE_EV_PROV_OK);
	CHECK_INT(f->e.cur, ROUTE_LOOK_NEXT);
	CHECK(!f->rc.f.dev_started && f->rc.f.provisioned);
	f->rc.f.itead_deviceid[0] = 0;
	memset(f->rc.f.itead_bssid, 0, 6);
	f->rc.f.have_ap = false;
	engine_post(&f->e, ROUTE_EV_AP_DOWN);
	CHECK_INT(f->e.cur, ROUTE_LOOK_NEXT);
}

/* look-next's limit: home; the home address: wait-call */
static void
drawer_home(struct fake *f)
{
	CHECK_INT(route_cloud.stages[ROUTE_LOOK_NEXT].limit_s(&f->rc), ROUTE_DRAWER_LOOK_S);
	fake_advance(f, ROUTE_DRAWER_LOOK_S * 1000ll);
	CHECK_INT(f->e.cur, ROUTE_WAIT_HOME);
	f->rc.f.have_home = true;
	engine_post(&f->e, ROUTE_EV_HOME_UP);
}

/* FinalStage of the device the route picked, delivered, gone: next-device */
static void
drawer_final(struct fake *f, int n)
{
	CHECK_INT(f->e.cur, ROUTE_FINALSTAGE);
	CHECK_INT(f->rc.f.final_bssid[5], n);
	f->rc.f.have_home = false;
	engine_post(&f->e, ROUTE_EV_HOME_DOWN);
	f->rc.f.have_final = true;
	engine_post(&f->e, ROUTE_EV_FINAL_UP);
	f->rc.f.user2_delivered = true;
	engine_post(&f->e, ROUTE_EV_FINAL_DELIVERED);
	CHECK_INT(f->e.cur, ROUTE_FINAL_DELIVERED);
	f->rc.f.have_final = false;
	engine_post(&f->e, ROUTE_EV_FINAL_DOWN);
}

/* One device from wait-ap (or next-device) to final-delivered, FinalStage then gone. */
static void
drawer_one_device(struct fake *f, int n)
{
	char id[16];
	snprintf(id, sizeof(id), "100000000%d", n);
	drawer_provision(f, n);
	drawer_home(f);
	CHECK_INT(f->e.cur, ROUTE_WAIT_CALL);
	f_cloud(f, id, false);
	CHECK_INT(f->e.cur, ROUTE_SERVING);
	f_cloud(f, id, true);
	drawer_final(f, n);
}

static void
drawer_init_fake(struct fake *f)
{
	fake_init(f);
	f->rc.f.drawer = true;
	engine_post(&f->e, ROUTE_EV_START);
	CHECK_INT(f->e.cur, ROUTE_WAIT_AP);
}

static void
test_drawer(void)
{
	struct fake f;

	/* Two devices done one after the other, then no third: done. */
	drawer_init_fake(&f);
	drawer_one_device(&f, 1);
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	CHECK_INT(f.nend, 1);
	CHECK_INT(f.end_outcome[0], 0);
	CHECK_STR(f.end_id[0], "1000000001");
	CHECK(!f.rc.f.user2_delivered && !f.rc.f.drawer_open);
	CHECK_INT(f.finishes, 0);
	drawer_one_device(&f, 2);
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	CHECK_INT(f.nend, 2);
	CHECK_INT(route_cloud.stages[ROUTE_NEXT_DEVICE].limit_s(&f.rc), ROUTE_DRAWER_NEXT_S);
	fake_advance(&f, ROUTE_DRAWER_NEXT_S * 1000ll - 1);
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	fake_advance(&f, 1);
	CHECK_INT(f.e.cur, ROUTE_DONE);
	CHECK(f.success && f.finishes == 1 && f.nend == 2);
	CHECK(strstr(f.e.diagnosis, "every device taken over in this run is done") != NULL);

	/* The second device never shows FinalStage: its limit -> next-device, recorded
	 * failed with finalstage's diagnosis; the run then fails. */
	drawer_init_fake(&f);
	drawer_one_device(&f, 1);
	drawer_provision(&f, 2);
	drawer_home(&f);
	f_cloud(&f, "1000000002", false);
	f_cloud(&f, "1000000002", true);
	CHECK_INT(f.e.cur, ROUTE_FINALSTAGE);
	fake_advance(&f, 900 * 1000);
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	CHECK_INT(f.nend, 2);
	CHECK_INT(f.end_outcome[1], 1);
	CHECK(strstr(f.end_why[1], "image_arduino.bin was not delivered on FinalStage") != NULL);
	CHECK_INT(f.finishes, 0);
	fake_advance(&f, ROUTE_DRAWER_NEXT_S * 1000ll);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(!f.success && !f.interrupted);
	CHECK(strstr(f.e.diagnosis, "not every device") != NULL);

	/* Provisioning gives up on a device: next-device, not the end of the run. */
	drawer_init_fake(&f);
	drawer_join(&f, 1);
	for (int k = 0; k < ROUTE_PROV_RUNS_MAX; k++) {
		engine_post(&f.e, ROUTE_EV_PROV_FAILED);
		if (k < ROUTE_PROV_RUNS_MAX - 1)
			fake_advance(&f, ROUTE_PROV_RETRY_S * 1000);
	}
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	CHECK(f.nend == 1 && f.end_outcome[0] == 1);
	CHECK(strstr(f.end_why[0], "Provisioning failed") != NULL);
	/* next-device ignores the old AP still up; a new one (ap-up) is provisioned */
	engine_post(&f.e, ROUTE_EV_AP_UP);
	CHECK_INT(f.e.cur, ROUTE_PROVISIONING);
	CHECK_INT(f.rc.f.prov_runs, 1);

	/* Interrupt in next-device: failed when a device is not done... */
	engine_post(&f.e, ROUTE_EV_INTERRUPT);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(f.interrupted && !f.success);
	CHECK_INT(f.nend, 2); /* the device in provisioning: interrupted */
	CHECK_INT(f.end_outcome[1], 2);
	drawer_init_fake(&f);
	drawer_join(&f, 1);
	for (int k = 0; k < ROUTE_PROV_RUNS_MAX; k++) {
		engine_post(&f.e, ROUTE_EV_PROV_FAILED);
		fake_advance(&f, ROUTE_PROV_RETRY_S * 1000);
	}
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	engine_post(&f.e, ROUTE_EV_INTERRUPT);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK_INT(f.nend, 1); /* nothing in progress: nothing more recorded */
	/* ... and done when every device taken over is (the user ends the run). */
	drawer_init_fake(&f);
	drawer_one_device(&f, 1);
	engine_post(&f.e, ROUTE_EV_INTERRUPT);
	CHECK_INT(f.e.cur, ROUTE_DONE);
	CHECK(f.success && f.nend == 1);

	/* wait-ap's limit before any device: the run fails (nothing recorded). */
	drawer_init_fake(&f);
	fake_advance(&f, 900 * 1000);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK_INT(f.nend, 0);

	/* A fatal error in the middle of a device: failed, the device recorded failed. */
	drawer_init_fake(&f);
	drawer_one_device(&f, 1);
	drawer_join(&f, 2);
	engine_post(&f.e, ROUTE_EV_FATAL);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(f.nend == 2 && f.end_outcome[1] == 1);

	/* Without --all none of this: final-delivered -> done, finalstage's limit fails. */
	fake_init(&f);
	engine_post(&f.e, ROUTE_EV_START);
	f.rc.f.have_ap = true;
	engine_post(&f.e, ROUTE_EV_AP_UP);
	engine_post(&f.e, ROUTE_EV_PROV_OK);
	CHECK_INT(f.e.cur, ROUTE_WAIT_HOME);
	f.rc.f.have_home = true;
	engine_post(&f.e, ROUTE_EV_HOME_UP);
	f.rc.f.devices = 1;
	engine_post(&f.e, ROUTE_EV_DEVICE_SEEN);
	engine_post(&f.e, ROUTE_EV_STOCK_DONE);
	CHECK_INT(f.e.cur, ROUTE_FINALSTAGE);
	engine_post(&f.e, ROUTE_EV_FINAL_DELIVERED);
	f.rc.f.have_final = false;
	engine_post(&f.e, ROUTE_EV_FINAL_DOWN);
	CHECK_INT(f.e.cur, ROUTE_DONE);
	CHECK_INT(f.nend, 0);

	/* With the hop driver on, the instructions say that sonota-c joins by itself. */
	char buf[ENGINE_TEXT_MAX];
	CHECK(route_cloud.stages[ROUTE_WAIT_AP].instruction(&f.rc, buf, sizeof(buf)));
	CHECK(strstr(buf, "join this computer to the WiFi \"ITEAD-<id>\"") != NULL);
	f.rc.f.hops_auto = true;
	CHECK(route_cloud.stages[ROUTE_WAIT_AP].instruction(&f.rc, buf, sizeof(buf)));
	CHECK(strstr(buf, "sonota-c joins its WiFi \"ITEAD-<id>\" itself") != NULL);
	CHECK(strstr(buf, "join this computer") == NULL);
	f.rc.f.have_final = false;
	CHECK(route_cloud.stages[ROUTE_FINALSTAGE].instruction(&f.rc, buf, sizeof(buf)));
	CHECK(strstr(buf, "sonota-c joins it itself") != NULL);
	CHECK(route_cloud.stages[ROUTE_WAIT_HOME].instruction(&f.rc, buf, sizeof(buf)));
	CHECK(strstr(buf, "sonota-c takes this computer back to \"home\"") != NULL);
	f.rc.f.hops_auto = false;

	/* The limit: --wait-timeout if shorter. */
	f.rc.f.wait_timeout_s = 30;
	CHECK_INT(route_cloud.stages[ROUTE_NEXT_DEVICE].limit_s(&f.rc), 30);
}

/* --all with devices in stage 2 together (issue 10 item 4): three devices provisioned
 * one after another (look-next finds the next ITEAD-<id> each time), served together,
 * then FinalStage one device at a time, in the order they were provisioned, each
 * matched by its own BSSID. */
static void
test_drawer_batch(void)
{
	struct fake f;

	drawer_init_fake(&f);
	drawer_provision(&f, 1);
	/* look-next: another ITEAD-<id> joined before the limit */
	fake_advance(&f, ROUTE_DRAWER_LOOK_S * 1000ll - 1);
	CHECK_INT(f.e.cur, ROUTE_LOOK_NEXT);
	drawer_provision(&f, 2);
	drawer_provision(&f, 3);
	CHECK_INT(f.rc.f.drawer_stage2, 3);
	/* home came back by NM's autoconnect meanwhile: look-next stays */
	f.rc.f.have_home = true;
	engine_post(&f.e, ROUTE_EV_HOME_UP);
	CHECK_INT(f.e.cur, ROUTE_LOOK_NEXT);
	/* a device calling during look-next does not end it */
	f_cloud(&f, "1000000001", false);
	CHECK_INT(f.e.cur, ROUTE_LOOK_NEXT);
	/* its limit: wait-home, where home is already up and a device was heard
	 * from: serving at once */
	fake_advance(&f, ROUTE_DRAWER_LOOK_S * 1000ll);
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	CHECK_INT(f.rc.f.drawer_open, 3);
	f_cloud(&f, "1000000001", false); /* it reconnects */
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	f_cloud(&f, "1000000002", false);
	f_cloud(&f, "1000000003", false);
	/* two done with stage 2: serving stays while one is still in it */
	f_cloud(&f, "1000000003", true);
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	CHECK(said(&f, "waits until the other 2 devices in stage 2 finish too"));
	f_cloud(&f, "1000000001", true);
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	CHECK_INT(f.rc.f.drawer_final_waiting, 2);
	/* the last one: FinalStage of the first device provisioned (1) */
	f_cloud(&f, "1000000002", true);
	drawer_final(&f, 1);
	/* next-device: the next FinalStage at once (2, then 3) */
	CHECK_INT(f.nend, 1);
	CHECK_STR(f.end_id[0], "1000000001");
	drawer_final(&f, 2);
	drawer_final(&f, 3);
	CHECK_INT(f.e.cur, ROUTE_NEXT_DEVICE);
	CHECK_INT(f.nend, 3);
	CHECK(f.rc.f.drawer_all_done);
	fake_advance(&f, ROUTE_DRAWER_NEXT_S * 1000ll);
	CHECK_INT(f.e.cur, ROUTE_DONE);
	CHECK(f.success);

	/* A device that never calls: serving's limit ends it (failed) and the others'
	 * FinalStage follow; the run then fails. */
	drawer_init_fake(&f);
	drawer_provision(&f, 1);
	drawer_provision(&f, 2);
	drawer_home(&f);
	f_cloud(&f, "1000000001", false);
	f_cloud(&f, "1000000001", true);
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	fake_advance(&f, 900 * 1000);
	CHECK_INT(f.e.cur, ROUTE_FINALSTAGE);
	CHECK_INT(f.nend, 1);
	CHECK_STR(f.end_id[0], "1000000002");
	CHECK_INT(f.end_outcome[0], 1);
	drawer_final(&f, 1);
	CHECK_INT(f.nend, 2);
	CHECK_INT(f.end_outcome[1], 0);
	fake_advance(&f, ROUTE_DRAWER_NEXT_S * 1000ll);
	CHECK_INT(f.e.cur, ROUTE_FAILED);

	/* Ctrl-C in serving: every device interrupted, none done. */
	drawer_init_fake(&f);
	drawer_provision(&f, 1);
	drawer_provision(&f, 2);
	drawer_home(&f);
	f_cloud(&f, "1000000001", true);
	engine_post(&f.e, ROUTE_EV_INTERRUPT);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(f.interrupted && f.nend == 2);
	CHECK(f.end_outcome[0] == 2 && f.end_outcome[1] == 2);

	/* NM cannot join an ITEAD-<id> (wrong password): --all goes on (the driver skips
	 * it) wherever it looks; one device: failed at once, with NM's reason. */
	drawer_init_fake(&f);
	snprintf(f.rc.f.join_failure, sizeof(f.rc.f.join_failure), "the network refused the "
		 "password");
	engine_post(&f.e, ROUTE_EV_JOIN_FAILED);
	CHECK_INT(f.e.cur, ROUTE_WAIT_AP);
	drawer_provision(&f, 1);
	engine_post(&f.e, ROUTE_EV_JOIN_FAILED);
	CHECK_INT(f.e.cur, ROUTE_LOOK_NEXT);
	fake_init(&f);
	engine_post(&f.e, ROUTE_EV_START);
	snprintf(f.rc.f.itead_deviceid, sizeof(f.rc.f.itead_deviceid), "1000abcdef");
	snprintf(f.rc.f.join_failure, sizeof(f.rc.f.join_failure), "the network refused the "
		 "password (wrong PSK, or not a Sonoff in pairing mode)");
	engine_post(&f.e, ROUTE_EV_JOIN_FAILED);
	CHECK_INT(f.e.cur, ROUTE_FAILED);
	CHECK(!f.success && !f.interrupted);
	CHECK(strstr(f.e.diagnosis, "could not join the device's WiFi ITEAD-1000abcdef: the "
				    "network refused the password (wrong PSK") != NULL);
	CHECK(strstr(f.e.diagnosis, "--wifi manual") != NULL);

	/* An unanswered POST /ap, then the AP goes: provisioned, look-next too. */
	drawer_init_fake(&f);
	drawer_join(&f, 1);
	engine_post(&f.e, ROUTE_EV_PROV_NO_REPLY);
	CHECK_INT(f.e.cur, ROUTE_POSTED);
	f.rc.f.have_ap = false;
	engine_post(&f.e, ROUTE_EV_AP_DOWN);
	CHECK_INT(f.e.cur, ROUTE_LOOK_NEXT);
	CHECK_INT(f.rc.f.drawer_stage2, 1);

	/* Two interfaces: a device provisioned earlier calls during provisioning: stays */
	drawer_init_fake(&f);
	drawer_provision(&f, 1);
	drawer_join(&f, 2);
	f_cloud(&f, "1000000001", false);
	CHECK_INT(f.e.cur, ROUTE_PROVISIONING);

	/* From next-device back home when devices are still in stage 2 (FinalStage was
	 * joined by hand while they were). */
	drawer_init_fake(&f);
	drawer_provision(&f, 1);
	drawer_provision(&f, 2);
	drawer_home(&f);
	f_cloud(&f, "1000000001", false);
	f_cloud(&f, "1000000001", true);
	f_cloud(&f, "1000000002", false);
	CHECK_INT(f.e.cur, ROUTE_SERVING);
	f.rc.f.have_final = true;
	engine_post(&f.e, ROUTE_EV_FINAL_UP);
	CHECK_INT(f.e.cur, ROUTE_FINALSTAGE);
	CHECK_INT(f.rc.f.final_bssid[5], 1);
	engine_post(&f.e, ROUTE_EV_FINAL_DELIVERED);
	f.rc.f.have_final = false;
	f.rc.f.have_home = false;
	engine_post(&f.e, ROUTE_EV_FINAL_DOWN);
	CHECK_INT(f.e.cur, ROUTE_WAIT_HOME);
	CHECK_INT(f.nend, 1);
}

int
main(void)
{
	test_paths();
	test_no_call();
	test_post_unanswered();
	test_limits();
	test_invariants();
	test_auto_texts();
	test_drawer();
	test_drawer_batch();
	return check_done();
}
