/* fakeclock: see fakeclock.h. */
#include "config.h"

#include "fakeclock.h"

void
fakeclock_init(struct fakeclock *c)
{
	c->now_ms = 0;
	for (int t = 0; t < _ENGINE_TIMER_MAX; t++)
		c->deadline[t] = -1;
}

void
fakeclock_arm(void *arg, enum engine_timer t, unsigned ms)
{
	struct fakeclock *c = arg;
	c->deadline[t] = c->now_ms + ms;
}

void
fakeclock_cancel(void *arg, enum engine_timer t)
{
	struct fakeclock *c = arg;
	c->deadline[t] = -1;
}

void
fakeclock_advance(struct fakeclock *c, struct engine *e, long long ms)
{
	long long end = c->now_ms + ms;

	for (;;) {
		int due = -1;
		for (int t = 0; t < _ENGINE_TIMER_MAX; t++)
			if (c->deadline[t] >= 0 && c->deadline[t] <= end &&
			    (due < 0 || c->deadline[t] < c->deadline[due]))
				due = t;
		if (due < 0)
			break;
		c->now_ms = c->deadline[due];
		c->deadline[due] = -1;
		engine_timer_fired(e, (enum engine_timer)due);
	}
	c->now_ms = end;
}
