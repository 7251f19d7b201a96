/* Unit tests of the left-mdns probe (src/diyleave.c, and its rows in src/route-diy.c on the
 * real engine with a fake adapter): a device that reported success but sent no mDNS goodbye
 * within DIYFLOW_LEAVE_MDNS_MS is asked /zeroconf/info once; no answer (refused, reset,
 * silent) ends "unproven" (never done), a /zeroconf answer or a garbled one ends "failed",
 * a goodbye arriving during the probe is still done. Each line says what was and was not
 * proven. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "diyflow.h"
#include "diyleave.h"
#include "engine.h"
#include "fakeclock.h"
#include "route-diy.h"

/* ---- diyleave_judge -------------------------------------------------------------------- */

static void
test_judge(void)
{
	static const struct {
		enum diyflow_outcome out;
		int error;
		const char *fw;
		enum diyleave want;
		const char *says[3];
	} rows[] = {
		{ DIYFLOW_OUT_RESET, 0, NULL, DIYLEAVE_GONE,
		  { "refused or reset", "NOT proven", "no mDNS goodbye within 120 s" } },
		{ DIYFLOW_OUT_TIMEOUT, 0, NULL, DIYLEAVE_GONE,
		  { "no answer within 5 s", "every byte acknowledged, completion POST error 0",
		    "leaving DIY mode was not observed" } },
		{ DIYFLOW_OUT_REPLY, 0, "3.6.0", DIYLEAVE_STILL_DIY,
		  { "still answers /zeroconf/info", "firmware 3.6.0, unchanged",
		    "did not reboot into the new image" } },
		{ DIYFLOW_OUT_REPLY, 0, "3.7.0", DIYLEAVE_STILL_DIY,
		  { "(firmware 3.7.0)", "not called done", "still announces DIY mode" } },
		{ DIYFLOW_OUT_REPLY, 401, NULL, DIYLEAVE_STILL_DIY,
		  { "still answers", "port 8081:", "not called done" } }, /* any code: DIY runs */
		{ DIYFLOW_OUT_BAD_REPLY, 0, NULL, DIYLEAVE_OTHER,
		  { "not as the DIY firmware", "unknown", "not called done" } },
		{ DIYFLOW_OUT_NONE, 0, NULL, DIYLEAVE_OTHER, /* no probe: never "gone" */
		  { "unknown", "not called done", "192.0.2.7" } },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct diyflow_result r = { .step = DIYFLOW_STEP_INFO, .outcome = rows[i].out,
					    .error = rows[i].error };
		struct diyleave_in in = { .ip = "192.0.2.7", .res = &r, .fw_version = rows[i].fw,
					  .fw_before = "3.6.0" };
		char buf[DIYLEAVE_TEXT_MAX];

		CHECK_INT(diyleave_judge(&in, buf, sizeof(buf)), rows[i].want);
		CHECK_MSG(strncmp(buf, "192.0.2.7 reported success", 26) == 0, "row %zu: %s", i, buf);
		for (int k = 0; k < 3; k++)
			CHECK_MSG(strstr(buf, rows[i].says[k]) != NULL, "row %zu lacks \"%s\": %s", i,
				  rows[i].says[k], buf);
		/* never a word of success beyond what is proven */
		CHECK_MSG(strstr(buf, "done:") == NULL && strstr(buf, "DONE") == NULL, "row %zu", i);
		CHECK(strlen(buf) < sizeof(buf) - 1); /* not cut */
	}
	/* a short buffer is cut, never overrun */
	{
		struct diyflow_result r = { .step = DIYFLOW_STEP_INFO, .outcome = DIYFLOW_OUT_RESET };
		struct diyleave_in in = { .ip = NULL, .res = &r };
		char small[16];

		CHECK_INT(diyleave_judge(&in, small, sizeof(small)), DIYLEAVE_GONE);
		CHECK_STR(small, "the device repo");
	}
	CHECK_STR(diyleave_name(DIYLEAVE_GONE), "gone");
	CHECK_STR(diyleave_name(DIYLEAVE_STILL_DIY), "still-diy");
	CHECK_STR(diyleave_name(DIYLEAVE_OTHER), "other");
	CHECK_STR(diyleave_name(DIYLEAVE_NONE), "none");
}

/* ---- the route's rows ------------------------------------------------------------------ */

struct fake {
	FAKECLOCK; /* first: the ops' arg is the clock's */
	struct engine e;
	struct route_diy rd;
	struct diyflow_facts facts;
	enum diyflow_step last;
	bool last_with_id;
	unsigned nsent, probes;
	int finished; /* 0 not yet, 1 success, -1 failure, -2 interrupted */
	unsigned bugs;
};

static void
f_narrate(void *arg, const char *from, const char *ev, const char *to)
{
	(void)arg, (void)from, (void)ev, (void)to;
}

static void
f_say(void *arg, const char *text)
{
	(void)arg, (void)text;
}

static void
f_bug(void *arg, const char *text)
{
	struct fake *f = arg;
	f->bugs++;
	fprintf(stderr, "bug: %s\n", text);
}

static const struct engine_ops ops = { fakeclock_arm, fakeclock_cancel, f_narrate,
				      f_say, f_bug, NULL };

static void
f_send(void *arg, enum diyflow_step step, bool with_id)
{
	struct fake *f = arg;
	f->last = step;
	f->last_with_id = with_id;
	f->nsent++;
}

static void
f_finish(void *arg, bool success, bool interrupted)
{
	struct fake *f = arg;
	f->finished = success ? 1 : interrupted ? -2 : -1;
}

static void
f_probe(void *arg)
{
	struct fake *f = arg;
	f->probes++;
}

static const struct route_diy_ops rops = { .send = f_send, .finish = f_finish,
					   .probe = f_probe };

static const char *
stage(const struct fake *f)
{
	return engine_stage_name(&route_diy, f->e.cur);
}

static void
reply(struct fake *f, bool unlocked)
{
	struct diyflow_result r = { .step = f->last, .outcome = DIYFLOW_OUT_REPLY,
				    .sent_deviceid = f->last_with_id, .ota_unlock = unlocked };
	f->rd.f.next = diyflow_next(&f->facts, &r);
	engine_post(&f->e, RDIY_EV_NEXT);
}

/* the adapter's part on a tick: the real verdict over the progress */
static void
tick(struct fake *f, int64_t since_complete)
{
	struct diyflow_progress p = {
		.image_size = 1000, .acked = 1000, .completion_seen = true,
		.completion_error = 0, .left_mdns = f->rd.f.left_mdns, .ms_since_flash = 9000,
		.ms_since_complete = since_complete,
	};
	f->rd.f.verdict = diyflow_verdict(&p, f->rd.f.diag, sizeof(f->rd.f.diag));
	f->rd.f.all_acked = true;
	f->rd.f.completion_seen = true;
	f->rd.f.completion_error = 0;
	engine_post(&f->e, RDIY_EV_PROGRESS);
}

/* found -> info -> flash -> serving -> left-mdns (two proofs of three) */
static void
to_left_mdns(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fakeclock_init(&f->clock);
	f->rd.ops = &rops;
	f->rd.arg = f;
	f->rd.f.device_ip = "192.0.2.7";
	f->rd.f.mdns_watch = true;
	engine_init(&f->e, &route_diy, &f->rd, &ops, f);
	CHECK_INT(engine_observe(&f->e, route_diy_observer, &f->rd), 0);
	engine_post(&f->e, RDIY_EV_START);
	engine_post(&f->e, RDIY_EV_FOUND);
	reply(f, true);
	reply(f, false);
	CHECK_STR(stage(f), "serving-image");
	tick(f, 0);
	CHECK_STR(stage(f), "left-mdns");
	tick(f, DIYFLOW_LEAVE_MDNS_MS - 1000);
	CHECK_STR(stage(f), "left-mdns"); /* within the limit: wait */
	CHECK_INT(f->probes, 0);
	tick(f, DIYFLOW_LEAVE_MDNS_MS + 1000);
	CHECK_STR(stage(f), "probe-8081");
	CHECK_INT(f->probes, 1);
	CHECK_INT(f->nsent, 2); /* the probe is not a route request */
	CHECK(f->deadline[ENGINE_TIMER_LIMIT] ==
	      f->now_ms + DIYFLOW_INFO_MS + RDIY_REQ_MARGIN_S * 1000);
	tick(f, DIYFLOW_LEAVE_MDNS_MS + 2000); /* ticks go on meanwhile: nothing changes */
	CHECK_STR(stage(f), "probe-8081");
	CHECK_INT(f->probes, 1);
	CHECK_INT(f->finished, 0);
}

static void
probed(struct fake *f, enum diyflow_outcome out)
{
	struct diyflow_result r = { .step = DIYFLOW_STEP_INFO, .outcome = out };
	struct diyleave_in in = { .ip = f->rd.f.device_ip, .res = &r,
				  .fw_version = out == DIYFLOW_OUT_REPLY ? "3.6.0" : NULL };

	f->rd.f.probe = diyleave_judge(&in, f->rd.f.probe_diag, sizeof(f->rd.f.probe_diag));
	engine_post(&f->e, RDIY_EV_PROBED);
}

static void
test_route(void)
{
	struct fake f;

	/* silent reboot: port 8081 refused -> unproven, the probe's line, not done */
	to_left_mdns(&f);
	probed(&f, DIYFLOW_OUT_RESET);
	CHECK_STR(stage(&f), "unproven");
	CHECK_INT(f.finished, -1);
	CHECK(strstr(f.e.diagnosis, "no longer answers on port 8081") != NULL);
	CHECK(strstr(f.e.diagnosis, "NOT proven") != NULL);

	/* off the WiFi altogether: no answer in time -> unproven too */
	to_left_mdns(&f);
	probed(&f, DIYFLOW_OUT_TIMEOUT);
	CHECK_STR(stage(&f), "unproven");

	/* still in DIY mode -> failed, naming it */
	to_left_mdns(&f);
	probed(&f, DIYFLOW_OUT_REPLY);
	CHECK_STR(stage(&f), "failed");
	CHECK_INT(f.finished, -1);
	CHECK(strstr(f.e.diagnosis, "still answers /zeroconf/info") != NULL);

	/* something else on 8081 -> failed */
	to_left_mdns(&f);
	probed(&f, DIYFLOW_OUT_BAD_REPLY);
	CHECK_STR(stage(&f), "failed");

	/* the goodbye arrives while the probe runs: all three proofs, done */
	to_left_mdns(&f);
	f.rd.f.left_mdns = true;
	tick(&f, DIYFLOW_LEAVE_MDNS_MS + 2000);
	CHECK_STR(stage(&f), "done");
	CHECK_INT(f.finished, 1);

	/* ... or just before the probe's answer, which then changes nothing */
	to_left_mdns(&f);
	f.rd.f.left_mdns = true;
	probed(&f, DIYFLOW_OUT_RESET);
	CHECK_STR(stage(&f), "done");

	/* the probe never ends (our bug): the backstop fails it, never unproven or done */
	to_left_mdns(&f);
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK_STR(stage(&f), "failed");
	CHECK(strstr(f.e.diagnosis, "did not end") != NULL);

	/* an interrupt during the probe */
	to_left_mdns(&f);
	engine_post(&f.e, RDIY_EV_INTERRUPT);
	CHECK_STR(stage(&f), "failed");
	CHECK_INT(f.finished, -2);

	/* the goodbye within the limit: done, no probe */
	to_left_mdns(&f); /* (already probing; a fresh run below) */
	memset(&f, 0, sizeof(f));
	fakeclock_init(&f.clock);
	f.rd.ops = &rops;
	f.rd.arg = &f;
	f.rd.f.mdns_watch = true;
	engine_init(&f.e, &route_diy, &f.rd, &ops, &f);
	engine_observe(&f.e, route_diy_observer, &f.rd);
	engine_post(&f.e, RDIY_EV_START);
	engine_post(&f.e, RDIY_EV_FOUND);
	reply(&f, true);
	reply(&f, false);
	tick(&f, 0);
	f.rd.f.left_mdns = true;
	tick(&f, 5000);
	CHECK_STR(stage(&f), "done");
	CHECK_INT(f.probes, 0);

	/* no watcher at all: unproven at once, without a probe (as before) */
	memset(&f, 0, sizeof(f));
	fakeclock_init(&f.clock);
	f.rd.ops = &rops;
	f.rd.arg = &f;
	engine_init(&f.e, &route_diy, &f.rd, &ops, &f);
	engine_observe(&f.e, route_diy_observer, &f.rd);
	engine_post(&f.e, RDIY_EV_START);
	engine_post(&f.e, RDIY_EV_FOUND);
	reply(&f, true);
	reply(&f, false);
	tick(&f, 0);
	CHECK_STR(stage(&f), "unproven");
	CHECK_INT(f.probes, 0);
	CHECK(strstr(f.e.diagnosis, "no Avahi browser") != NULL);
	CHECK_INT(f.bugs, 0);
}

int
main(void)
{
	test_judge();
	test_route();
	return check_done();
}
