/* enginelws: see enginelws.h. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "enginelws.h"

#define SUL_OWNER(sul, i) \
	((struct engine_lws *)((char *)(sul) - offsetof(struct engine_lws, sul) - \
			       (i) * sizeof(lws_sorted_usec_list_t)))

static void
sul_limit(lws_sorted_usec_list_t *sul)
{
	engine_timer_fired(SUL_OWNER(sul, ENGINE_TIMER_LIMIT)->eng, ENGINE_TIMER_LIMIT);
}

static void
sul_notice(lws_sorted_usec_list_t *sul)
{
	engine_timer_fired(SUL_OWNER(sul, ENGINE_TIMER_NOTICE)->eng, ENGINE_TIMER_NOTICE);
}

static void
sul_remind(lws_sorted_usec_list_t *sul)
{
	engine_timer_fired(SUL_OWNER(sul, ENGINE_TIMER_REMIND)->eng, ENGINE_TIMER_REMIND);
}

static void
op_arm(void *arg, enum engine_timer tm, unsigned ms)
{
	static const sul_cb_t cbs[_ENGINE_TIMER_MAX] = { sul_limit, sul_notice, sul_remind };
	struct engine_lws *el = arg;

	lws_sul_schedule(el->lws, 0, &el->sul[tm], cbs[tm], (lws_usec_t)ms * LWS_US_PER_MS);
}

static void
op_cancel(void *arg, enum engine_timer tm)
{
	struct engine_lws *el = arg;

	lws_sul_cancel(&el->sul[tm]);
}

static void
op_narrate(void *arg, const char *from, const char *ev, const char *to)
{
	struct engine_lws *el = arg;

	ui_transition(el->ui, from, ev, to);
}

static void
op_say(void *arg, const char *text)
{
	struct engine_lws *el = arg;

	ui_say(el->ui, "%s", text);
}

static void
op_bug(void *arg, const char *text)
{
	struct engine_lws *el = arg;

	log_err(el->log, "%s", text);
}

/* The table, not the event source, decides what is meaningful: debug level. */
static void
op_reject(void *arg, const char *stage, const char *ev)
{
	struct engine_lws *el = arg;

	log_debug(el->log, "stage: event %s ignored in %s", ev, stage);
}

const struct engine_ops engine_lws_ops = {
	.arm = op_arm, .cancel = op_cancel, .narrate = op_narrate, .say = op_say, .bug = op_bug,
	.reject = op_reject,
};

void
engine_lws_init(struct engine_lws *el, struct engine *eng, struct lws_context *lws,
		struct ui *ui, struct log *log)
{
	memset(el, 0, sizeof(*el));
	el->eng = eng;
	el->lws = lws;
	el->ui = ui;
	el->log = log;
}

void
engine_lws_fini(struct engine_lws *el)
{
	if (!el->lws)
		return;
	for (int i = 0; i < _ENGINE_TIMER_MAX; i++)
		lws_sul_cancel(&el->sul[i]);
}
