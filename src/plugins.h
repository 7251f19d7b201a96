/* plugins: the modules that plug into a running route without a change to the
 * engine or the composition: a WiFi hop driver (issue 10) observes the engine's
 * transitions (engine_observe) and causes hops whose results come back as the
 * events that already exist (address events from netlink).
 *
 * Adding one = a new module with a struct plugin, and one line in the list in
 * plugins.c. The composition starts them all once the loop exists and stops them
 * in reverse before it. Built in: the WiFi hop driver (hop.h), with libsystemd.
 *
 * Two hooks the composition honours (src/sonota.c):
 *  - start returning -EPERM is a pre-flight refusal (already explained in the
 *    log): the run exits with the pre-flight code instead of the generic one;
 *  - busy: once the route ended, the loop keeps running while a plug-in says it
 *    is busy (the hop driver restoring the user's network); the plug-in bounds
 *    that time itself.
 */
#pragma once

#include <stdbool.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "engine.h"
#include "log.h"
#include "ui.h"

#define PLUGINS_MAX 4 /* plug-ins at once; each usually takes one engine observer
		       * (ENGINE_OBSERVERS_MAX leaves room for this many besides the
		       * adapter's own) */

/* What a plug-in gets. Everything is borrowed for the whole run. */
struct bus;

struct plugin_env {
	struct engine *eng;        /* the running route's engine: engine_observe/post */
	struct lws_context *lws;   /* the loop: timers (lws_sul), adopted descriptors */
	struct lws_vhost *vh_loop; /* the internal vhost */
	const struct cfg *cfg;
	struct log *log;
	struct ui *ui;
	struct bus *bus;           /* issue 11 §1: the one system-bus connection, shared by NM
				    * and Avahi (bus.h), borrowed; NULL: no system bus, or
				    * built without libsystemd */
};

struct plugin {
	const char *name;
	/* Start; *ret_state is passed to stop. 0, or -errno (the run fails to start). */
	int (*start)(const struct plugin_env *env, void **ret_state);
	void (*stop)(void *state); /* NULL-safe for a state that start never set */
	/* The route ended: true while the plug-in still needs the loop (bounded by
	 * the plug-in). NULL: never. Called with the state start set (maybe NULL). */
	bool (*busy)(void *state);
};

struct plugins {
	const struct plugin *started[PLUGINS_MAX];
	void *state[PLUGINS_MAX];
	unsigned n;
};

/* Start every plug-in of list (NULL-terminated; NULL = the built-in list). Returns 0,
 * or the first -errno, with ret_name set to the failing one's name; what started
 * must still be stopped with plugins_stop. */
int plugins_start(struct plugins *p, const struct plugin *const *list,
		  const struct plugin_env *env, const char **ret_name);

/* True while a started plug-in says it is busy. Safe on a zeroed struct. */
bool plugins_busy(const struct plugins *p);

/* Stop them in reverse order. Safe on a zeroed struct. */
void plugins_stop(struct plugins *p);
