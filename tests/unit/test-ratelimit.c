/* Unit tests for ratelimit: the token bucket, table-driven over a fake clock,
 * and the peer table (own budgets, suppressed counts, reuse of the oldest). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ratelimit.h"

struct step {
	uint64_t now_ms;
	unsigned tries;   /* calls at now_ms */
	unsigned allowed; /* how many of them must be allowed */
};

static void
test_bucket(void)
{
	static const struct {
		unsigned burst, rate;
		struct step steps[6];
	} rows[] = {
		/* A new bucket starts full; one second refills rate tokens. */
		{ 5, 2, { { 0, 10, 5 }, { 500, 10, 1 }, { 1000, 10, 1 }, { 2000, 10, 2 } } },
		/* Never more than burst, however long it waited. */
		{ 3, 100, { { 0, 3, 3 }, { 1000000, 10, 3 }, { 1000010, 10, 1 } } },
		/* Fractions add up: rate 1 per second, calls every 250 ms. */
		{ 1, 1, { { 0, 1, 1 }, { 250, 1, 0 }, { 500, 1, 0 }, { 750, 1, 0 }, { 1000, 1, 1 } } },
		/* Time going backwards refills nothing. */
		{ 2, 10, { { 5000, 2, 2 }, { 1000, 5, 0 }, { 5100, 5, 1 } } },
		/* burst 0: never; rate 0: only the first burst. */
		{ 0, 10, { { 0, 3, 0 }, { 10000, 3, 0 } } },
		{ 2, 0, { { 0, 3, 2 }, { 1000000, 3, 0 } } },
		/* A huge rate is clamped, not overflowed. */
		{ 4, 4000000000u, { { 0, 4, 4 }, { UINT64_MAX / 2, 5, 4 } } },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct ratelimit_bucket b = { 0 };

		for (size_t s = 0; s < 6 && rows[r].steps[s].tries; s++) {
			const struct step *st = &rows[r].steps[s];
			unsigned got = 0;

			for (unsigned t = 0; t < st->tries; t++)
				got += ratelimit_take(&b, st->now_ms, rows[r].burst, rows[r].rate);
			CHECK_MSG(got == st->allowed, "row %zu step %zu: %u allowed, want %u", r, s,
				  got, st->allowed);
		}
	}
}

static void
test_peers(void)
{
	struct ratelimit_peer slots[3];
	struct ratelimit_peers t;
	unsigned long sup = 99;

	ratelimit_peers_init(&t, slots, 3, 2, 1);
	CHECK(ratelimit_peer_take(&t, "a", 0, &sup) && sup == 0);
	CHECK(ratelimit_peer_take(&t, "a", 0, &sup) && sup == 0);
	sup = 99;
	CHECK(!ratelimit_peer_take(&t, "a", 0, &sup));
	CHECK(!ratelimit_peer_take(&t, "a", 0, &sup));
	CHECK_INT(sup, 99); /* not written when refused */
	/* Other peers are not affected. */
	CHECK(ratelimit_peer_take(&t, "b", 0, &sup) && sup == 0);
	CHECK(ratelimit_peer_take(&t, "", 1, &sup)); /* "" is a key too ("?") */
	CHECK(ratelimit_peer_take(&t, NULL, 1, &sup));
	CHECK(!ratelimit_peer_take(&t, "?", 1, &sup)); /* ... the same one */
	/* The next allowed line of "a" reports the two refusals. */
	CHECK(ratelimit_peer_take(&t, "a", 1000, &sup));
	CHECK_INT(sup, 2);
	CHECK(!ratelimit_peer_take(&t, "a", 1000, &sup));
	/* The table is full (a, b, ?): a new peer reuses b, seen longest ago. */
	CHECK(ratelimit_peer_take(&t, "c", 2000, &sup) && sup == 0);
	CHECK_INT(t.evicted_suppressed, 0);
	bool have_b = false, have_c = false;
	for (int i = 0; i < 3; i++) {
		have_b |= strcmp(slots[i].key, "b") == 0;
		have_c |= strcmp(slots[i].key, "c") == 0;
	}
	CHECK(!have_b && have_c);
	/* Reusing a slot with unreported refusals keeps their count. "?" (seen at
	 * 1) is the oldest now and has one refusal. */
	CHECK(ratelimit_peer_take(&t, "d", 3000, &sup));
	CHECK_INT(t.evicted_suppressed, 1);
	/* Keys longer than the slot are cut, consistently. */
	char longkey[RATELIMIT_KEY_MAX * 2];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	CHECK(ratelimit_peer_take(&t, longkey, 4000, &sup));
	CHECK(ratelimit_peer_take(&t, longkey, 4000, &sup));
	CHECK(!ratelimit_peer_take(&t, longkey, 4000, &sup));
}

int
main(void)
{
	test_bucket();
	test_peers();
	return check_done();
}
