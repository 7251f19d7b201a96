/* engine: runs a route given as data. docs/stage-machine.md describes the engine and
 * the first route (src/route-cloud.c); keep them in step.
 *
 * A route is two tables: stages (name, time limit, entry/exit action, the user's
 * instruction, an early notice, the diagnosis when the limit expires, terminal or
 * not) and transitions {from, event, guard, to, note}. The engine owns no I/O: the
 * adapter gives it timer operations (arm/cancel, so tests drive it with a fake
 * clock) and output operations (narrate a transition, say a line).
 *
 * Run to completion: engine_post() enqueues an event into a fixed ring; if the
 * engine is not dispatching already it dispatches until the ring is empty. An event
 * posted by an entry or exit action, an observer or the adapter during a transition
 * is queued and runs after it: transitions never nest, and every observer sees the
 * transitions in the order they happened. A ring overflow is a bug of ours: it is
 * reported through ops->bug, the ring is emptied and the route's fatal event runs.
 *
 * Transitions: the first row whose from (or ENGINE_ANY) and event match and whose
 * guard (a pure predicate over the route's context, NULL = always) holds is taken.
 * A row to the same stage is narrated and starts nothing (no entry action, timers
 * keep running). A row to another stage runs the old stage's exit action, the new
 * stage's entry action, arms its timers, and queues the route's "entered"
 * pseudo-event: rows on it are the follow-ups (a stage entered while its awaited
 * condition already holds is left at once). An "entered" that no row takes is
 * silent; any other event that no row takes is counted in .rejected. Nothing leaves
 * a terminal stage.
 *
 * Timers per stage (each optional, each from the stage table):
 *  - ENGINE_TIMER_LIMIT: the time limit; on expiry the route's timeout event is
 *    posted; a row taken on it without a note of its own says the stage's expiry
 *    diagnosis.
 *  - ENGINE_TIMER_NOTICE: one early line (e.g. "the device has not called yet").
 *  - ENGINE_TIMER_REMIND: the instruction, once the stage lasted ENGINE_SETTLE_MS,
 *    then every ENGINE_REMIND_S while it lasts.
 * A note said on a row into a terminal stage is kept as the run's diagnosis.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ENGINE_QUEUE_MAX 32    /* events queued during one dispatch: one external event
				* causes at most a handful (entered + follow-ups); 32 is
				* far above any chain the routes can make, so reaching
				* it means a loop of ours */
#define ENGINE_OBSERVERS_MAX 4 /* transition observers: the composition's UI narration,
				* a WiFi hop driver (issue 10), a second route's glue
				* (issue 11), and one spare */
#define ENGINE_TEXT_MAX 1024   /* one instruction, notice or diagnosis line (the longest,
				* the no-call diagnosis, is about 600 bytes) */
#define ENGINE_SETTLE_MS 50    /* a stage is explained once it lasted this long, so a
				* stage that is left at once is not */
#define ENGINE_REMIND_S 60     /* a waiting stage repeats its instruction this often */
#define ENGINE_ANY (-1)        /* a transition row's from: every non-terminal stage */

enum engine_timer {
	ENGINE_TIMER_LIMIT,  /* the stage's time limit */
	ENGINE_TIMER_NOTICE, /* its one early notice */
	ENGINE_TIMER_REMIND, /* its instruction (settle, then every ENGINE_REMIND_S) */
	_ENGINE_TIMER_MAX,
};

/* A text of the route (instruction, notice, diagnosis, note) made from the route's
 * context: writes at most len bytes with a NUL into buf; returns false for none. */
typedef bool (*engine_text_fn)(const void *ctx, char *buf, size_t len);
/* A time in seconds from the route's context; 0 = none. */
typedef unsigned (*engine_secs_fn)(const void *ctx);
/* A guard: a pure predicate over the route's context. */
typedef bool (*engine_guard_fn)(const void *ctx);
/* An entry or exit action: may post events (they are queued). */
typedef void (*engine_action_fn)(void *ctx, int from, int ev, int to);

struct engine_stage {
	const char *name;           /* "wait-ap", ... */
	engine_secs_fn limit_s;     /* time limit, NULL/0: none */
	engine_secs_fn notice_s;    /* when to say .notice, NULL/0: never */
	engine_action_fn on_entry;  /* NULL: none */
	engine_action_fn on_exit;   /* NULL: none */
	engine_text_fn instruction; /* what the user does now, NULL: nothing */
	engine_text_fn notice;      /* the one early notice */
	engine_text_fn expiry;      /* the diagnosis when the limit expires */
	bool terminal;              /* the run ends here */
	bool success;               /* terminal: a success */
};

struct engine_row {
	int from;              /* stage, or ENGINE_ANY */
	int ev;                /* event */
	engine_guard_fn guard; /* NULL: always */
	int to;                /* stage */
	engine_text_fn note;   /* said when taken, NULL: nothing */
};

struct engine_route {
	const char *name;                 /* "cloud" */
	const struct engine_stage *stages; /* indexed by stage number */
	unsigned nstages;
	const struct engine_row *rows;    /* in priority order */
	unsigned nrows;
	const char *const *event_names;   /* indexed by event number */
	unsigned nevents;
	int initial;                      /* first stage */
	int ev_entered;                   /* the pseudo-event queued on entry */
	int ev_timeout;                   /* posted when a limit expires */
	int ev_fatal;                     /* run after a queue overflow */
};

/* What the adapter supplies. Every member but reject is required. */
struct engine_ops {
	void (*arm)(void *arg, enum engine_timer t, unsigned ms); /* (re)arm t; on expiry
								   * call engine_timer_fired */
	void (*cancel)(void *arg, enum engine_timer t);
	void (*narrate)(void *arg, const char *from, const char *ev, const char *to);
								 /* every row taken */
	void (*say)(void *arg, const char *text);                /* a user line */
	void (*bug)(void *arg, const char *text);                /* a bug of ours */
	void (*reject)(void *arg, const char *stage, const char *ev); /* an event no row
								       * took (may be NULL) */
};

struct engine;

/* An observer sees every transition taken (self-transitions included), after the
 * entry action, in order. It may post events (queued). */
typedef void (*engine_observer_fn)(void *arg, const struct engine *e, int from, int ev, int to);

struct engine_observer {
	engine_observer_fn fn;
	void *arg;
};

struct engine {
	const struct engine_route *route; /* borrowed, static */
	void *ctx;                        /* the route's context: guards, texts, actions */
	const struct engine_ops *ops;     /* the adapter */
	void *ops_arg;
	int cur;                          /* current stage */
	int queue[ENGINE_QUEUE_MAX];      /* events waiting, a ring */
	unsigned qhead, qlen;
	bool dispatching;                 /* inside engine_post's loop */
	bool overflowed;                  /* the ring overflowed once (a bug) */
	unsigned transitions;             /* rows taken */
	unsigned rejected;                /* events no row took (not "entered") */
	char diagnosis[ENGINE_TEXT_MAX];  /* the note of the row into a terminal stage */
	struct engine_observer obs[ENGINE_OBSERVERS_MAX];
	unsigned nobs;
};

/* Start in route->initial (no entry action runs for it). ctx is the route's context;
 * ops/ops_arg the adapter's. */
void engine_init(struct engine *e, const struct engine_route *route, void *ctx,
		 const struct engine_ops *ops, void *ops_arg);

/* Add an observer. 0, or -ENOSPC beyond ENGINE_OBSERVERS_MAX. */
int engine_observe(struct engine *e, engine_observer_fn fn, void *arg);

/* Post one event; dispatches the queue unless already dispatching. Returns 0, -EINVAL
 * for an event out of the route's range, or -ENOBUFS on overflow (reported, fatal). */
int engine_post(struct engine *e, int ev);

/* The adapter's timer t expired. */
void engine_timer_fired(struct engine *e, enum engine_timer t);

/* The row ev leads to from stage cur with this context, or NULL. Pure. */
const struct engine_row *engine_match(const struct engine_route *r, int cur, int ev,
				      const void *ctx);

bool engine_is_terminal(const struct engine *e); /* the current stage is terminal */
const char *engine_stage_name(const struct engine_route *r, int s); /* "invalid" if none */
const char *engine_event_name(const struct engine_route *r, int ev);
