/* engine: see engine.h and docs/stage-machine.md. Pure: no I/O, no clock, no
 * logging; time and output come through the adapter's ops. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

static const struct engine_stage *
stage_of(const struct engine *e, int s)
{
	return &e->route->stages[s];
}

void
engine_init(struct engine *e, const struct engine_route *route, void *ctx,
	    const struct engine_ops *ops, void *ops_arg)
{
	memset(e, 0, sizeof(*e));
	e->route = route;
	e->ctx = ctx;
	e->ops = ops;
	e->ops_arg = ops_arg;
	e->cur = route->initial;
}

int
engine_observe(struct engine *e, engine_observer_fn fn, void *arg)
{
	if (e->nobs >= ENGINE_OBSERVERS_MAX)
		return -ENOSPC;
	e->obs[e->nobs++] = (struct engine_observer){ fn, arg };
	return 0;
}

const struct engine_row *
engine_match(const struct engine_route *r, int cur, int ev, const void *ctx)
{
	if (cur < 0 || (unsigned)cur >= r->nstages || r->stages[cur].terminal)
		return NULL;
	for (unsigned i = 0; i < r->nrows; i++) {
		const struct engine_row *row = &r->rows[i];
		if ((row->from == cur || row->from == ENGINE_ANY) && row->ev == ev &&
		    (!row->guard || row->guard(ctx)))
			return row;
	}
	return NULL;
}

static void
say_text(struct engine *e, engine_text_fn fn, bool keep)
{
	char buf[ENGINE_TEXT_MAX];
	if (!fn || !fn(e->ctx, buf, sizeof(buf)) || !buf[0])
		return;
	e->ops->say(e->ops_arg, buf);
	if (keep)
		snprintf(e->diagnosis, sizeof(e->diagnosis), "%s", buf);
}

static void
cancel_timers(struct engine *e)
{
	for (int t = 0; t < _ENGINE_TIMER_MAX; t++)
		e->ops->cancel(e->ops_arg, (enum engine_timer)t);
}

static void
arm_timers(struct engine *e, const struct engine_stage *st)
{
	unsigned limit = st->limit_s ? st->limit_s(e->ctx) : 0;
	unsigned notice = st->notice_s ? st->notice_s(e->ctx) : 0;
	if (limit)
		e->ops->arm(e->ops_arg, ENGINE_TIMER_LIMIT, limit * 1000u);
	if (notice && st->notice)
		e->ops->arm(e->ops_arg, ENGINE_TIMER_NOTICE, notice * 1000u);
	if (st->instruction)
		e->ops->arm(e->ops_arg, ENGINE_TIMER_REMIND, ENGINE_SETTLE_MS);
}

static void enqueue(struct engine *e, int ev);

/* One event, to completion. */
static void
dispatch(struct engine *e, int ev)
{
	const struct engine_route *r = e->route;
	const struct engine_row *row = engine_match(r, e->cur, ev, e->ctx);
	if (!row) {
		if (ev != r->ev_entered && !stage_of(e, e->cur)->terminal) {
			e->rejected++;
			if (e->ops->reject)
				e->ops->reject(e->ops_arg, stage_of(e, e->cur)->name,
					       engine_event_name(r, ev));
		}
		return;
	}
	int from = e->cur, to = row->to;
	const struct engine_stage *old = stage_of(e, from), *now = stage_of(e, to);

	e->transitions++;
	e->ops->narrate(e->ops_arg, old->name, engine_event_name(r, ev), now->name);
	if (row->note)
		say_text(e, row->note, now->terminal);
	else if (ev == r->ev_timeout && from != to)
		say_text(e, old->expiry, now->terminal);
	if (to != from) {
		cancel_timers(e);
		if (old->on_exit)
			old->on_exit(e->ctx, from, ev, to);
		e->cur = to;
		if (now->on_entry)
			now->on_entry(e->ctx, from, ev, to);
		if (!now->terminal) {
			arm_timers(e, now);
			enqueue(e, r->ev_entered);
		}
	}
	for (unsigned i = 0; i < e->nobs; i++)
		e->obs[i].fn(e->obs[i].arg, e, from, ev, to);
}

static void
enqueue(struct engine *e, int ev)
{
	if (e->qlen >= ENGINE_QUEUE_MAX) {
		char buf[160];
		snprintf(buf, sizeof(buf), "engine: event queue full (%d events) in %s, posting "
			 "%s: a loop of events (our bug); failing the run", ENGINE_QUEUE_MAX,
			 engine_stage_name(e->route, e->cur), engine_event_name(e->route, ev));
		e->ops->bug(e->ops_arg, buf);
		e->overflowed = true;
		e->qlen = 0;
		ev = e->route->ev_fatal;
	}
	e->queue[(e->qhead + e->qlen) % ENGINE_QUEUE_MAX] = ev;
	e->qlen++;
}

int
engine_post(struct engine *e, int ev)
{
	if (ev < 0 || (unsigned)ev >= e->route->nevents)
		return -EINVAL;
	bool over = e->qlen >= ENGINE_QUEUE_MAX;
	enqueue(e, ev);
	if (!e->dispatching) {
		e->dispatching = true;
		while (e->qlen) {
			int next = e->queue[e->qhead];
			e->qhead = (e->qhead + 1) % ENGINE_QUEUE_MAX;
			e->qlen--;
			dispatch(e, next);
		}
		e->dispatching = false;
	}
	return over ? -ENOBUFS : 0;
}

void
engine_timer_fired(struct engine *e, enum engine_timer t)
{
	const struct engine_stage *st = stage_of(e, e->cur);
	if (st->terminal)
		return;
	switch (t) {
	case ENGINE_TIMER_LIMIT:
		engine_post(e, e->route->ev_timeout);
		break;
	case ENGINE_TIMER_NOTICE:
		say_text(e, st->notice, false);
		break;
	case ENGINE_TIMER_REMIND:
		say_text(e, st->instruction, false);
		e->ops->arm(e->ops_arg, ENGINE_TIMER_REMIND, ENGINE_REMIND_S * 1000u);
		break;
	default:
		break;
	}
}

bool
engine_is_terminal(const struct engine *e)
{
	return e->route->stages[e->cur].terminal;
}

const char *
engine_stage_name(const struct engine_route *r, int s)
{
	return s >= 0 && (unsigned)s < r->nstages && r->stages[s].name ? r->stages[s].name
									 : "invalid";
}

const char *
engine_event_name(const struct engine_route *r, int ev)
{
	return ev >= 0 && (unsigned)ev < r->nevents && r->event_names[ev] ? r->event_names[ev]
									  : "invalid";
}
