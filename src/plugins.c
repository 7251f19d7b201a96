/* plugins: see plugins.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "plugins.h"
#ifdef SONOTA_WITH_NM
#include "hop.h"
#endif

#ifndef SONOTA_WITH_NM
/* Without libsystemd (-Dnm=disabled): the one line saying why the hops are manual. */
static int
nohop_start(const struct plugin_env *env, void **ret_state)
{
	(void)ret_state;
	log_notice(env->log, "WiFi hops: manual: %s",
		   env->cfg->wifi == CFG_WIFI_MANUAL
			   ? "(--wifi manual)"
			   : "this build has no NetworkManager support (-Dnm=disabled)");
	return 0;
}

static const struct plugin nohop_plugin = { "wifi-hop", nohop_start, NULL, NULL };
#endif

/* The built-in plug-ins. */
static const struct plugin *const builtin[] = {
#ifdef SONOTA_WITH_NM
	&hop_plugin, /* issue 10: WiFi hops through NetworkManager */
#else
	&nohop_plugin,
#endif
	NULL,
};

int
plugins_start(struct plugins *p, const struct plugin *const *list,
	      const struct plugin_env *env, const char **ret_name)
{
	if (!list)
		list = builtin;
	for (; *list; list++) {
		if (p->n >= PLUGINS_MAX) {
			*ret_name = (*list)->name;
			return -ENOSPC;
		}
		void *state = NULL;
		int r = (*list)->start(env, &state);
		if (r < 0) {
			*ret_name = (*list)->name;
			return r;
		}
		p->started[p->n] = *list;
		p->state[p->n++] = state;
	}
	return 0;
}

bool
plugins_busy(const struct plugins *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->started[i]->busy && p->started[i]->busy(p->state[i]))
			return true;
	return false;
}

void
plugins_stop(struct plugins *p)
{
	while (p->n) {
		p->n--;
		if (p->started[p->n]->stop)
			p->started[p->n]->stop(p->state[p->n]);
	}
}
