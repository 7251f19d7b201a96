/* ratelimit: token buckets over a supplied monotonic time, and a fixed table of
 * them keyed by a peer's address. Pure: no clock, no lock, no logging; log.c
 * wraps it (log_peer_allow) with the clock and its mutex.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per second; taking
 * one line costs one token. Tokens are counted in thousandths so that integer
 * arithmetic refills exactly at any rate up to RATELIMIT_RATE_MAX per second.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 64       /* a peer key kept (IPv6 literal is 45): longer ones are cut */
#define RATELIMIT_RATE_MAX 1000000 /* tokens per second: keeps elapsed * rate far from overflow */

struct ratelimit_bucket {
	uint64_t milli;   /* tokens held, in thousandths */
	uint64_t last_ms; /* the time of the last refill */
	bool primed;      /* milli and last_ms are set (a new bucket starts full) */
};

/* Take one token at now_ms: refill for the time since the last call (a time that
 * goes backwards refills nothing), then true and one token less, or false when
 * less than one token is left. burst == 0 never allows; rate is clamped to
 * RATELIMIT_RATE_MAX. */
bool ratelimit_take(struct ratelimit_bucket *b, uint64_t now_ms, unsigned burst, unsigned rate);

struct ratelimit_peer {
	char key[RATELIMIT_KEY_MAX]; /* "" = free slot */
	struct ratelimit_bucket bucket;
	uint64_t seen_ms;            /* last call for this key: the oldest is reused first */
	unsigned long suppressed;    /* lines refused since the last allowed one */
};

struct ratelimit_peers {
	struct ratelimit_peer *v;         /* borrowed array of max slots */
	size_t max;
	unsigned burst, rate;             /* per peer */
	unsigned long evicted_suppressed; /* refusals of peers whose slot was reused unreported */
};

/* Use slots (an array of max entries, owned by the caller) for a table. */
void ratelimit_peers_init(struct ratelimit_peers *t, struct ratelimit_peer *slots, size_t max,
			  unsigned burst, unsigned rate);

/* One line for key at now_ms. Finds key's slot, or takes a free one, or reuses
 * the one seen longest ago (its unreported refusals go to evicted_suppressed).
 * Returns true when allowed; then *ret_suppressed is the number of this key's
 * lines refused since its last allowed one (and that count restarts at 0).
 * Returns false (and counts the refusal) when the key is over its budget;
 * *ret_suppressed is then not written. */
bool ratelimit_peer_take(struct ratelimit_peers *t, const char *key, uint64_t now_ms,
			 unsigned long *ret_suppressed);
