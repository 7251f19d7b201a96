/* plugins: see plugins.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "plugins.h"

/* The built-in plug-ins: add a WiFi hop driver here (issue 10). */
static const struct plugin *const builtin[] = {
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

void
plugins_stop(struct plugins *p)
{
	while (p->n) {
		p->n--;
		if (p->started[p->n]->stop)
			p->started[p->n]->stop(p->state[p->n]);
	}
}
