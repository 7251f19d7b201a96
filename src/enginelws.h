/* enginelws: the engine's ops on the lws loop, shared by the route adapters
 * (takeover.c for the cloud route, diyrun.c for the DIY route).
 *
 * Time limits are lws_sul timers on the caller's context; transitions and
 * instructions go to the ui, engine bugs and ignored events to the log. The
 * adapter embeds a struct engine_lws, fills it with engine_lws_init, and gives
 * engine_init &engine_lws_ops with the struct as arg. engine_lws_fini cancels
 * the timers (call it before the context is destroyed).
 */
#pragma once

#include <libwebsockets.h>

#include "engine.h"
#include "log.h"
#include "ui.h"

struct engine_lws {
	struct engine *eng;         /* borrowed: the engine the timers fire into */
	struct lws_context *lws;    /* borrowed: NULL = never armed */
	struct ui *ui;              /* borrowed */
	struct log *log;            /* borrowed */
	lws_sorted_usec_list_t sul[_ENGINE_TIMER_MAX]; /* the engine's timers */
};

extern const struct engine_ops engine_lws_ops;

void engine_lws_init(struct engine_lws *el, struct engine *eng, struct lws_context *lws,
		     struct ui *ui, struct log *log);

/* Cancel every timer; safe on a zeroed struct. */
void engine_lws_fini(struct engine_lws *el);
