/* fakeclock: the engine adapter's timers (engine_ops.arm/.cancel) as deadlines on a fake
 * clock, for the unit tests that run routes on the real engine (test-engine.c,
 * test-stage.c, test-route-diy.c). Time moves only in fakeclock_advance(); nothing
 * sleeps.
 *
 * The clock is the FIRST member of the test's adapter struct, through FAKECLOCK, so that
 * the adapter's ops_arg is also the clock's and fakeclock_arm/fakeclock_cancel can be
 * put straight into its engine_ops; the anonymous union keeps f->now_ms and
 * f->deadline[t] readable as plain fields:
 *
 *	struct fake { FAKECLOCK; ...the test's own fields... };
 *	static const struct engine_ops ops = { fakeclock_arm, fakeclock_cancel, ... };
 */
#pragma once

#include "engine.h"

#define FAKECLOCK_FIELDS                                                                     \
	long long now_ms;                     /* the fake time, ms from 0 */                  \
	long long deadline[_ENGINE_TIMER_MAX] /* when each timer fires (absolute ms); -1: not \
					       * armed */

struct fakeclock {
	FAKECLOCK_FIELDS;
};

/* The first member of a test's adapter struct (see above). */
#define FAKECLOCK                                                                            \
	union {                                                                              \
		struct fakeclock clock;                                                      \
		struct {                                                                     \
			FAKECLOCK_FIELDS;                                                    \
		};                                                                           \
	}

/* Time 0, no timer armed. */
void fakeclock_init(struct fakeclock *c);

/* engine_ops.arm and .cancel; arg points at the clock (the adapter struct that starts
 * with FAKECLOCK). Arming an armed timer re-arms it. */
void fakeclock_arm(void *arg, enum engine_timer t, unsigned ms);
void fakeclock_cancel(void *arg, enum engine_timer t);

/* Advance the clock by ms, firing each timer that falls due into e
 * (engine_timer_fired), in deadline order, with now_ms at its deadline; then now_ms is
 * the end. Timers armed while firing fire too when they fall within ms. */
void fakeclock_advance(struct fakeclock *c, struct engine *e, long long ms);
