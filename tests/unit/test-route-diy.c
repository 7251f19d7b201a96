/* Unit tests of the DIY route's tables (src/route-diy.c) on the real engine with a fake
 * adapter, every decision made by the real cores (diyflow_next, diyflow_verdict): the
 * requests go out in diyflow's order (the deviceid retry resends from the same stage),
 * done only with every byte acked AND completion error 0 AND the device gone from mDNS
 * ("unproven", not done, when no mDNS watcher runs), a non-zero completion or a missing one
 * fails with the cores' / the table's diagnosis, and an interrupt is never
 * done. The stage names are diyflow_stage_name()'s. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "diyflow.h"
#include "engine.h"
#include "fakeclock.h"
#include "route-diy.h"

#define SENT_MAX 16

struct fake {
	FAKECLOCK; /* first: the ops' arg is the clock's */
	struct engine e;
	struct route_diy rd;
	struct diyflow_facts facts;
	struct {
		enum diyflow_step step;
		bool with_id;
	} sent[SENT_MAX];
	unsigned nsent;
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
	if (f->nsent < SENT_MAX) {
		f->sent[f->nsent].step = step;
		f->sent[f->nsent++].with_id = with_id;
	}
}

static void
f_finish(void *arg, bool success, bool interrupted)
{
	struct fake *f = arg;
	f->finished = success ? 1 : interrupted ? -2 : -1;
}

static const struct route_diy_ops rops = { .send = f_send, .finish = f_finish };

static void
setup(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fakeclock_init(&f->clock);
	f->rd.ops = &rops;
	f->rd.arg = f;
	f->rd.f.device_ip = "192.0.2.7";
	f->rd.f.mdns_watch = true;
	engine_init(&f->e, &route_diy, &f->rd, &ops, f);
	CHECK_INT(engine_observe(&f->e, route_diy_observer, &f->rd), 0);
	CHECK_INT(engine_post(&f->e, RDIY_EV_START), 0);
	CHECK_STR(engine_stage_name(&route_diy, f->e.cur), "discover");
	CHECK_INT(f->nsent, 0); /* nothing before the device is known */
	CHECK(f->deadline[ENGINE_TIMER_LIMIT] == DIYFLOW_DISCOVER_MS);
	CHECK_INT(engine_post(&f->e, RDIY_EV_FOUND), 0);
}

/* The adapter's part after a request: the cores decide, then NEXT. */
static void
reply(struct fake *f, enum diyflow_outcome out, int error, bool unlocked)
{
	struct diyflow_result r = {
		.step = f->sent[f->nsent - 1].step, .outcome = out, .error = error,
		.sent_deviceid = f->sent[f->nsent - 1].with_id, .ota_unlock = unlocked,
	};
	f->rd.f.next = diyflow_next(&f->facts, &r);
	engine_post(&f->e, RDIY_EV_NEXT);
}

/* The adapter's part on an image-server event or tick. */
static void
progress(struct fake *f, uint64_t acked, bool completion, int cerr, int64_t since_flash,
	 int64_t since_complete)
{
	struct diyflow_progress p = {
		.image_size = 1000, .acked = acked, .completion_seen = completion,
		.completion_error = cerr, .ms_since_flash = since_flash,
		.ms_since_progress = 0, .ms_since_complete = since_complete,
	};
	f->rd.f.verdict = diyflow_verdict(&p, f->rd.f.diag, sizeof(f->rd.f.diag));
	f->rd.f.all_acked = acked == 1000;
	f->rd.f.completion_seen = completion;
	f->rd.f.completion_error = cerr;
	engine_post(&f->e, RDIY_EV_PROGRESS);
}

static const char *
stage(const struct fake *f)
{
	return engine_stage_name(&route_diy, f->e.cur);
}

static void
test_names(void)
{
	static const struct {
		enum route_diy_stage rs;
		enum diyflow_stage ds;
	} m[] = {
		{ RDIY_INFO, DIYFLOW_STAGE_INFO },       { RDIY_UNLOCK, DIYFLOW_STAGE_UNLOCK },
		{ RDIY_FLASH, DIYFLOW_STAGE_FLASH },     { RDIY_SERVING, DIYFLOW_STAGE_SERVING },
		{ RDIY_COMPLETION, DIYFLOW_STAGE_COMPLETION }, { RDIY_DONE, DIYFLOW_STAGE_DONE },
		{ RDIY_FAILED, DIYFLOW_STAGE_FAILED }, { RDIY_DISCOVER, DIYFLOW_STAGE_DISCOVER },
		{ RDIY_LEFT_MDNS, DIYFLOW_STAGE_LEFT_MDNS },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		CHECK_STR(engine_stage_name(&route_diy, m[i].rs), diyflow_stage_name(m[i].ds));
}

/* info (locked) -> unlock -> info -> flash -> serving -> completion -> done */
static void
test_ok_with_unlock(void)
{
	struct fake f;

	setup(&f);
	CHECK_STR(stage(&f), "info");
	CHECK_INT(f.nsent, 1);
	CHECK(f.sent[0].step == DIYFLOW_STEP_INFO && f.sent[0].with_id);
	CHECK(f.deadline[ENGINE_TIMER_LIMIT] == 2 * DIYFLOW_INFO_MS + 1000);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	CHECK_STR(stage(&f), "unlock");
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	CHECK_STR(stage(&f), "info");
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	CHECK_STR(stage(&f), "flash");
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	CHECK_STR(stage(&f), "serving-image");
	CHECK_INT(f.nsent, 4);
	CHECK(f.sent[1].step == DIYFLOW_STEP_UNLOCK && f.sent[3].step == DIYFLOW_STEP_FLASH);
	progress(&f, 500, false, 0, 2000, 0);
	CHECK_STR(stage(&f), "serving-image");
	progress(&f, 1000, false, 0, 4000, 0);
	CHECK_STR(stage(&f), "completion-post");
	CHECK_INT(f.finished, 0);
	progress(&f, 1000, true, 0, 9000, 0);
	CHECK_STR(stage(&f), "left-mdns"); /* two proofs of three: not done yet */
	CHECK_INT(f.finished, 0);
	f.rd.f.left_mdns = true;
	engine_post(&f.e, RDIY_EV_PROGRESS);
	CHECK_STR(stage(&f), "done");
	CHECK_INT(f.finished, 1);
	CHECK(strstr(f.e.diagnosis, "completion POST said error 0") != NULL);
	CHECK(strstr(f.e.diagnosis, "left mDNS") != NULL);
	CHECK_INT(f.nsent, 4);
	CHECK_INT(f.bugs, 0);
}

/* Without an mDNS watcher the third proof cannot come: "unproven", never done; with one
 * that never sees the goodbye, the stage's limit fails it. MINIR3: no id from the start. */
static void
test_unproven(void)
{
	struct fake f;

	setup(&f);
	f.rd.f.mdns_watch = false;
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	progress(&f, 1000, true, 0, 9000, 0);
	CHECK_STR(stage(&f), "unproven");
	CHECK_INT(f.finished, -1);
	CHECK(strstr(f.e.diagnosis, "could not be observed") != NULL);

	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	progress(&f, 1000, true, 0, 9000, 0);
	CHECK_STR(stage(&f), "left-mdns");
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK_STR(stage(&f), "failed");
	CHECK(strstr(f.e.diagnosis, "still announces DIY mode") != NULL);

	memset(&f, 0, sizeof(f));
	fakeclock_init(&f.clock);
	f.rd.ops = &rops;
	f.rd.arg = &f;
	f.rd.f.omit_deviceid = true;
	engine_init(&f.e, &route_diy, &f.rd, &ops, &f);
	engine_observe(&f.e, route_diy_observer, &f.rd);
	engine_post(&f.e, RDIY_EV_START);
	engine_post(&f.e, RDIY_EV_FOUND);
	CHECK_INT(f.nsent, 1);
	CHECK(f.sent[0].step == DIYFLOW_STEP_INFO && !f.sent[0].with_id);

	/* nobody announced: discover's limit names mDNS and --device-ip */
	memset(&f, 0, sizeof(f));
	fakeclock_init(&f.clock);
	f.rd.ops = &rops;
	f.rd.arg = &f;
	engine_init(&f.e, &route_diy, &f.rd, &ops, &f);
	engine_observe(&f.e, route_diy_observer, &f.rd);
	engine_post(&f.e, RDIY_EV_START);
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK_STR(stage(&f), "failed");
	CHECK(strstr(f.e.diagnosis, "--device-ip") != NULL);
	CHECK_INT(f.nsent, 0);

	/* what was seen instead: dnssd's diagnosis, and still --device-ip */
	memset(&f, 0, sizeof(f));
	fakeclock_init(&f.clock);
	f.rd.ops = &rops;
	f.rd.arg = &f;
	f.rd.f.hidden = "the device announces eWeLink LAN mode, not DIY mode";
	engine_init(&f.e, &route_diy, &f.rd, &ops, &f);
	engine_post(&f.e, RDIY_EV_START);
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK(strstr(f.e.diagnosis, "LAN mode, not DIY mode") != NULL);
	CHECK(strstr(f.e.diagnosis, "--device-ip") != NULL);
}

/* 3.7.x / MINIR3: the request with the id is dropped; the same request goes again
 * without it, from the same stage (a row to itself), and the rest omit it. */
static void
test_deviceid_retry(void)
{
	struct fake f;

	setup(&f);
	reply(&f, DIYFLOW_OUT_RESET, 0, false);
	CHECK_STR(stage(&f), "info");
	CHECK_INT(f.nsent, 2);
	CHECK(f.sent[1].step == DIYFLOW_STEP_INFO && !f.sent[1].with_id);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	CHECK_STR(stage(&f), "flash");
	CHECK(f.sent[2].step == DIYFLOW_STEP_FLASH && !f.sent[2].with_id);
}

/* The negative cases: a completion error, no completion at all, an unlock that needs
 * the Internet, an interrupt. None is done. */
static void
test_failures(void)
{
	struct fake f;

	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	progress(&f, 1000, true, 409, 5000, 0);
	CHECK_STR(stage(&f), "failed");
	CHECK_INT(f.finished, -1);
	CHECK(strstr(f.e.diagnosis, "409") != NULL);

	/* every byte, then silence: the verdict's limit, or the stage's backstop */
	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	progress(&f, 1000, false, 0, 5000, 0);
	CHECK_STR(stage(&f), "completion-post");
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK_STR(stage(&f), "failed");
	CHECK_INT(f.finished, -1);
	CHECK(strstr(f.e.diagnosis, "no completion POST") != NULL);

	/* nothing downloaded: diyflow_verdict's start limit */
	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	progress(&f, 0, false, 0, DIYFLOW_DOWNLOAD_START_MS + 1, 0);
	CHECK_STR(stage(&f), "failed");
	CHECK(f.e.diagnosis[0] != '\0');

	/* unlock hangs: diyflow_next gives up naming the Internet */
	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	reply(&f, DIYFLOW_OUT_TIMEOUT, 0, false);
	CHECK_STR(stage(&f), "failed");
	CHECK(strstr(f.e.diagnosis, "Internet") != NULL);

	/* an interrupt while serving */
	setup(&f);
	reply(&f, DIYFLOW_OUT_REPLY, 0, true);
	reply(&f, DIYFLOW_OUT_REPLY, 0, false);
	engine_post(&f.e, RDIY_EV_INTERRUPT);
	CHECK_STR(stage(&f), "failed");
	CHECK_INT(f.finished, -2);

	/* the info stage's backstop */
	setup(&f);
	engine_timer_fired(&f.e, ENGINE_TIMER_LIMIT);
	CHECK_STR(stage(&f), "failed");
	CHECK(strstr(f.e.diagnosis, "192.0.2.7:8081 did not answer") != NULL);
	CHECK_INT(f.bugs, 0);
}

int
main(void)
{
	test_names();
	test_ok_with_unlock();
	test_deviceid_retry();
	test_failures();
	test_unproven();
	return check_done();
}
