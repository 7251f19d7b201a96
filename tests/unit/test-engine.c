/* Unit tests of the engine (src/engine.c) with small route tables of their own and a
 * fake clock: events run to completion and never nest, the ring overflow is a bug
 * that fails the run, timers come from the stage table, the diagnosis is kept, and
 * a second route plus an observer (a stand-in for a WiFi hop driver) plug in without
 * any change to the engine. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "engine.h"
#include "fakeclock.h"
#include "plugins.h"

/* ---- a fake adapter: timers as deadlines on a fake clock, output recorded ------------ */

#define LOG_MAX 64

struct fake {
	FAKECLOCK;                             /* first: the ops' arg is the clock's */
	struct engine *e;
	char said[LOG_MAX][ENGINE_TEXT_MAX];
	unsigned nsaid;
	char narrated[LOG_MAX][96];
	unsigned nnarrated;
	unsigned bugs;
};

static void
f_narrate(void *arg, const char *from, const char *ev, const char *to)
{
	struct fake *f = arg;
	if (f->nnarrated < LOG_MAX)
		snprintf(f->narrated[f->nnarrated++], sizeof(f->narrated[0]), "%s > %s > %s", from, ev,
			 to);
}

static void
f_say(void *arg, const char *text)
{
	struct fake *f = arg;
	if (f->nsaid < LOG_MAX)
		snprintf(f->said[f->nsaid++], sizeof(f->said[0]), "%s", text);
}

static void
f_bug(void *arg, const char *text)
{
	struct fake *f = arg;
	f->bugs++;
	(void)text;
}

static char last_reject[64];

static void
f_reject(void *arg, const char *stage, const char *ev)
{
	(void)arg;
	snprintf(last_reject, sizeof(last_reject), "%s in %s", ev, stage);
}

static const struct engine_ops fake_ops = { fakeclock_arm, fakeclock_cancel, f_narrate,
					   f_say, f_bug, f_reject };

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fakeclock_init(&f->clock);
}

/* Advance the fake clock by ms, firing due timers in deadline order. */
static void
fake_advance(struct fake *f, long long ms)
{
	fakeclock_advance(&f->clock, f->e, ms);
}

/* ---- route A: idle -> armed -> (entry action may fail) -> failed / done ------------- */

enum { A_IDLE, A_ARMED, A_WORK, A_DONE, A_FAILED, A_MAX };
enum { EA_GO, EA_NEXT, EA_FINISH, EA_TIMEOUT, EA_FATAL, EA_ENTERED, EA_NOISE, EA_MAX };

struct actx {
	bool fail_on_work;   /* the entry action of WORK raises fatal (as on_enter did) */
	unsigned flood;      /* the entry action of WORK posts this many NOISE events */
	struct engine *e;
	unsigned entries;
	bool ready;          /* guard of the "entered" follow-up */
};

static bool
g_ready(const void *c)
{
	return ((const struct actx *)c)->ready;
}

static void
work_entry(void *c, int from, int ev, int to)
{
	struct actx *a = c;
	(void)from, (void)ev, (void)to;
	a->entries++;
	if (a->fail_on_work)
		engine_post(a->e, EA_FATAL);
	for (unsigned i = 0; i < a->flood; i++)
		engine_post(a->e, EA_NOISE);
}

static unsigned
limit_10(const void *c)
{
	(void)c;
	return 10;
}

static unsigned
notice_4(const void *c)
{
	(void)c;
	return 4;
}

static bool
txt_instr(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "do the thing");
	return true;
}

static bool
txt_notice(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "not yet");
	return true;
}

static bool
txt_expiry(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "it never came");
	return true;
}

static const struct engine_stage a_stages[A_MAX] = {
	[A_IDLE] = { .name = "idle" },
	[A_ARMED] = { .name = "armed", .limit_s = limit_10, .notice_s = notice_4,
		      .instruction = txt_instr, .notice = txt_notice, .expiry = txt_expiry },
	[A_WORK] = { .name = "work", .on_entry = work_entry },
	[A_DONE] = { .name = "done", .terminal = true, .success = true },
	[A_FAILED] = { .name = "failed", .terminal = true },
};
static const char *const a_events[EA_MAX] = { "go", "next", "finish", "timeout", "fatal",
					      "entered", "noise" };
static const struct engine_row a_rows[] = {
	{ A_IDLE, EA_GO, NULL, A_ARMED, NULL },
	{ A_ARMED, EA_ENTERED, g_ready, A_WORK, NULL },
	{ A_ARMED, EA_NEXT, NULL, A_WORK, NULL },
	{ A_ARMED, EA_TIMEOUT, NULL, A_FAILED, NULL },
	{ A_WORK, EA_FINISH, NULL, A_DONE, NULL },
	{ A_WORK, EA_NOISE, NULL, A_WORK, NULL },
	{ ENGINE_ANY, EA_FATAL, NULL, A_FAILED, NULL },
};
static const struct engine_route route_a = {
	.name = "a", .stages = a_stages, .nstages = A_MAX, .rows = a_rows,
	.nrows = sizeof(a_rows) / sizeof(a_rows[0]), .event_names = a_events, .nevents = EA_MAX,
	.initial = A_IDLE, .ev_entered = EA_ENTERED, .ev_timeout = EA_TIMEOUT, .ev_fatal = EA_FATAL,
};

/* An observer that records the sequence and checks it is a chain. */
struct chain {
	int from[LOG_MAX], ev[LOG_MAX], to[LOG_MAX];
	unsigned n;
	int stage_during[LOG_MAX]; /* engine's current stage when the observer ran */
};

static void
chain_obs(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct chain *c = arg;
	if (c->n < LOG_MAX) {
		c->from[c->n] = from;
		c->ev[c->n] = ev;
		c->to[c->n] = to;
		c->stage_during[c->n] = e->cur;
		c->n++;
	}
}

/* The defect of the old stage machine: a failure raised inside the entry action ran
 * a second transition inside the first, and the first then reported its (stale)
 * stage after "failed". Here the fatal is queued: observers see work, then failed,
 * each while the engine is in that very stage. */
static void
test_no_nesting(void)
{
	struct fake f;
	struct actx a = { .fail_on_work = true };
	struct engine e;
	struct chain c = { 0 };
	fake_init(&f);
	engine_init(&e, &route_a, &a, &fake_ops, &f);
	f.e = a.e = &e;
	CHECK_INT(engine_observe(&e, chain_obs, &c), 0);
	CHECK_INT(engine_post(&e, EA_GO), 0);
	CHECK_INT(engine_post(&e, EA_NEXT), 0);
	CHECK_INT(e.cur, A_FAILED);
	CHECK_INT(c.n, 3);
	CHECK_INT(c.to[1], A_WORK);
	CHECK_INT(c.to[2], A_FAILED);
	for (unsigned i = 0; i < c.n; i++) {
		CHECK_MSG(c.stage_during[i] == c.to[i], "observer %u ran in %s, reporting %s", i,
			  engine_stage_name(&route_a, c.stage_during[i]),
			  engine_stage_name(&route_a, c.to[i]));
		if (i)
			CHECK_MSG(c.from[i] == c.to[i - 1], "transition %u does not chain", i);
	}
	CHECK_INT(a.entries, 1);
	CHECK_STR(f.narrated[1], "armed > next > work");
	CHECK_STR(f.narrated[2], "work > fatal > failed");
	/* Nothing leaves a terminal stage, and late events are not counted as rejected. */
	CHECK_INT(engine_post(&e, EA_FINISH), 0);
	CHECK_INT(e.cur, A_FAILED);
	CHECK_INT(e.rejected, 0);
	CHECK_INT(engine_post(&e, EA_MAX), -EINVAL);
}

static void
test_entered_and_rejected(void)
{
	struct fake f;
	struct actx a = { .ready = true };
	struct engine e;
	fake_init(&f);
	engine_init(&e, &route_a, &a, &fake_ops, &f);
	f.e = a.e = &e;
	CHECK_INT(engine_post(&e, EA_FINISH), 0); /* not allowed in idle */
	CHECK_INT(e.rejected, 1);
	CHECK_STR(last_reject, "finish in idle");
	CHECK_INT(e.cur, A_IDLE);
	engine_post(&e, EA_GO); /* armed, then "entered" with ready: work */
	CHECK_INT(e.cur, A_WORK);
	CHECK_STR(f.narrated[1], "armed > entered > work");
	CHECK_INT(e.rejected, 1); /* an "entered" nobody takes is silent */
	engine_post(&e, EA_NOISE); /* self: narrated, no entry action */
	CHECK_INT(a.entries, 1);
	CHECK_STR(f.narrated[2], "work > noise > work");
	engine_post(&e, EA_FINISH);
	CHECK(engine_is_terminal(&e));
	CHECK_INT(e.transitions, 4);
}

/* An entry action that floods the ring: a logged bug, and the run fails. */
static void
test_overflow(void)
{
	struct fake f;
	struct actx a = { .flood = ENGINE_QUEUE_MAX + 8 };
	struct engine e;
	fake_init(&f);
	engine_init(&e, &route_a, &a, &fake_ops, &f);
	f.e = a.e = &e;
	engine_post(&e, EA_GO);
	engine_post(&e, EA_NEXT);
	CHECK(f.bugs >= 1);
	CHECK(e.overflowed);
	CHECK_INT(e.cur, A_FAILED);
	CHECK_INT(e.qlen, 0);
}

/* Timers from the table, on the fake clock. */
static void
test_timers(void)
{
	struct fake f;
	struct actx a = { 0 };
	struct engine e;
	fake_init(&f);
	engine_init(&e, &route_a, &a, &fake_ops, &f);
	f.e = a.e = &e;
	engine_post(&e, EA_GO);
	CHECK_INT(f.deadline[ENGINE_TIMER_LIMIT], 10000);
	CHECK_INT(f.deadline[ENGINE_TIMER_NOTICE], 4000);
	CHECK_INT(f.deadline[ENGINE_TIMER_REMIND], ENGINE_SETTLE_MS);
	fake_advance(&f, 1000);
	CHECK_INT(f.nsaid, 1);
	CHECK_STR(f.said[0], "do the thing");
	CHECK_INT(f.deadline[ENGINE_TIMER_REMIND], ENGINE_SETTLE_MS + ENGINE_REMIND_S * 1000);
	fake_advance(&f, 4000);
	CHECK_INT(f.nsaid, 2);
	CHECK_STR(f.said[1], "not yet");
	fake_advance(&f, 60000);
	CHECK_INT(e.cur, A_FAILED);
	CHECK_STR(f.said[f.nsaid - 1], "it never came");
	CHECK_STR(e.diagnosis, "it never came");
	/* The notice came once; the terminal stage cancelled every timer. */
	unsigned notices = 0;
	for (unsigned i = 0; i < f.nsaid; i++)
		notices += strcmp(f.said[i], "not yet") == 0;
	CHECK_INT(notices, 1);
	for (int t = 0; t < _ENGINE_TIMER_MAX; t++)
		CHECK_INT(f.deadline[t], -1);
	/* A stage left before its limit cancels it. */
	fake_init(&f);
	engine_init(&e, &route_a, &a, &fake_ops, &f);
	f.e = &e;
	a.e = &e;
	engine_post(&e, EA_GO);
	engine_post(&e, EA_NEXT);
	CHECK_INT(f.deadline[ENGINE_TIMER_LIMIT], -1);
	fake_advance(&f, 20000);
	CHECK_INT(e.cur, A_WORK);
}

/* ---- route B: a second route, and a hop driver as an observer -------------------------
 * A second route is a table; a driver that causes WiFi hops observes transitions and
 * posts the events its hops cause. Neither needs a change in the engine. */

enum { B_SEARCH, B_FLASH, B_OK, B_FAIL, B_MAX };
enum { EB_FOUND, EB_HOPPED, EB_FLASHED, EB_TIMEOUT, EB_FATAL, EB_ENTERED, EB_MAX };

static bool
b_hopped(const void *c)
{
	return *(const bool *)c;
}

static const struct engine_stage b_stages[B_MAX] = {
	[B_SEARCH] = { .name = "search" },
	[B_FLASH] = { .name = "flash" },
	[B_OK] = { .name = "ok", .terminal = true, .success = true },
	[B_FAIL] = { .name = "fail", .terminal = true },
};
static const char *const b_events[EB_MAX] = { "found", "hopped", "flashed", "timeout",
					      "fatal", "entered" };
static const struct engine_row b_rows[] = {
	{ B_SEARCH, EB_FOUND, NULL, B_SEARCH, NULL },
	{ B_SEARCH, EB_HOPPED, b_hopped, B_FLASH, NULL },
	{ B_FLASH, EB_FLASHED, NULL, B_OK, NULL },
	{ ENGINE_ANY, EB_FATAL, NULL, B_FAIL, NULL },
};
static const struct engine_route route_b = {
	.name = "b", .stages = b_stages, .nstages = B_MAX, .rows = b_rows,
	.nrows = sizeof(b_rows) / sizeof(b_rows[0]), .event_names = b_events, .nevents = EB_MAX,
	.initial = B_SEARCH, .ev_entered = EB_ENTERED, .ev_timeout = EB_TIMEOUT,
	.ev_fatal = EB_FATAL,
};

struct hopper {
	bool *hopped; /* the route's fact */
	struct engine *e;
	unsigned hops;
};

/* On "found", hop to the device's network; report the hop as an event. */
static void
hop_obs(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct hopper *h = arg;
	(void)e, (void)from, (void)to;
	if (ev == EB_FOUND) {
		h->hops++;
		*h->hopped = true;
		engine_post(h->e, EB_HOPPED);
	}
}

static void
test_second_route(void)
{
	struct fake f;
	struct engine e;
	bool hopped = false;
	struct hopper h = { .hopped = &hopped, .e = &e };
	struct chain c = { 0 };
	fake_init(&f);
	engine_init(&e, &route_b, &hopped, &fake_ops, &f);
	f.e = &e;
	CHECK_INT(engine_observe(&e, hop_obs, &h), 0);
	CHECK_INT(engine_observe(&e, chain_obs, &c), 0);
	engine_post(&e, EB_FOUND);
	CHECK_INT(h.hops, 1);
	CHECK_INT(e.cur, B_FLASH);
	/* Both observers saw both transitions, in order. */
	CHECK_INT(c.n, 2);
	CHECK_INT(c.ev[0], EB_FOUND);
	CHECK_INT(c.ev[1], EB_HOPPED);
	engine_post(&e, EB_FLASHED);
	CHECK(engine_is_terminal(&e));
	CHECK(e.route->stages[e.cur].success);
	CHECK_STR(engine_stage_name(&route_b, B_FLASH), "flash");
	CHECK_STR(engine_event_name(&route_b, EB_HOPPED), "hopped");
	CHECK_STR(engine_stage_name(&route_b, B_MAX), "invalid");
	/* The observer list is bounded. */
	for (int i = 2; i < ENGINE_OBSERVERS_MAX; i++)
		CHECK_INT(engine_observe(&e, chain_obs, &c), 0);
	CHECK_INT(engine_observe(&e, chain_obs, &c), -ENOSPC);
}

/* A hop driver as a plug-in: it starts from the built-in list of plugins.c (here a
 * list of the test's own), observes the engine it is given, and is stopped in reverse. */
static struct hopper plug_hopper;
static unsigned plug_stops;
static char plug_order[8];

static int
plug_start(const struct plugin_env *env, void **ret_state)
{
	plug_hopper.e = env->eng;
	*ret_state = &plug_hopper;
	return engine_observe(env->eng, hop_obs, &plug_hopper);
}

static void
plug_stop(void *state)
{
	CHECK(state == &plug_hopper);
	plug_order[plug_stops++] = 'h';
}

static int
fail_start(const struct plugin_env *env, void **ret_state)
{
	(void)env, (void)ret_state;
	return -EIO;
}

static void
other_stop(void *state)
{
	(void)state;
	plug_order[plug_stops++] = 'o';
}

static bool plug_is_busy;

static bool
plug_busy(void *state)
{
	(void)state;
	return plug_is_busy;
}

static const struct plugin hop_plugin = { "hop", plug_start, plug_stop, NULL };
static const struct plugin other_plugin = { "other", NULL, other_stop, NULL };
static const struct plugin fail_plugin = { "broken", fail_start, NULL, NULL };

static int
other_start(const struct plugin_env *env, void **ret_state)
{
	(void)env;
	*ret_state = NULL;
	return 0;
}

static void
test_plugins(void)
{
	struct fake f;
	struct engine e;
	bool hopped = false;
	struct plugin other = other_plugin;
	other.start = other_start;
	const struct plugin *list[] = { &hop_plugin, &other, NULL };
	struct plugin_env env = { .eng = &e };
	struct plugins p;
	const char *name = NULL;

	fake_init(&f);
	engine_init(&e, &route_b, &hopped, &fake_ops, &f);
	f.e = &e;
	plug_hopper.hopped = &hopped;
	memset(&p, 0, sizeof(p));
	CHECK_INT(plugins_start(&p, list, &env, &name), 0);
	CHECK_INT(p.n, 2);
	engine_post(&e, EB_FOUND);
	CHECK_INT(plug_hopper.hops, 1);
	CHECK_INT(e.cur, B_FLASH);
	plugins_stop(&p);
	CHECK_INT(plug_stops, 2);
	CHECK_STR(plug_order, "oh"); /* reverse order */
	/* A plug-in that cannot start is named; those before it are stopped after. */
	const struct plugin *bad[] = { &hop_plugin, &fail_plugin, NULL };
	memset(&p, 0, sizeof(p));
	CHECK_INT(plugins_start(&p, bad, &env, &name), -EIO);
	CHECK_STR(name, "broken");
	CHECK_INT(p.n, 1);
	plugins_stop(&p);
	CHECK_INT(plug_stops, 3);
	/* busy: the loop runs on while one says so (the built-in list needs a real
	 * loop and NM: tests/nm/run-sonota.sh runs it). */
	struct plugin busy = other_plugin;
	busy.start = other_start;
	busy.busy = plug_busy;
	const struct plugin *blist[] = { &hop_plugin, &busy, NULL };
	memset(&p, 0, sizeof(p));
	CHECK(!plugins_busy(&p));
	CHECK_INT(plugins_start(&p, blist, &env, &name), 0);
	plug_is_busy = true;
	CHECK(plugins_busy(&p));
	plug_is_busy = false;
	CHECK(!plugins_busy(&p));
	plugins_stop(&p);
}

int
main(void)
{
	test_no_nesting();
	test_entered_and_rejected();
	test_overflow();
	test_timers();
	test_second_route();
	test_plugins();
	return check_done();
}
