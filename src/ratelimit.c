/* ratelimit: see ratelimit.h. */
#include "config.h"

#include <string.h>

#include "ratelimit.h"
#include "util.h"

bool
ratelimit_take(struct ratelimit_bucket *b, uint64_t now_ms, unsigned burst, unsigned rate)
{
	uint64_t full = (uint64_t)burst * 1000u;

	if (rate > RATELIMIT_RATE_MAX)
		rate = RATELIMIT_RATE_MAX;
	if (!b->primed) {
		b->milli = full;
		b->last_ms = now_ms;
		b->primed = true;
	}
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;

		/* Past the time a full refill takes, more time adds nothing; the
		 * clamp also keeps elapsed * rate from overflowing. */
		if (rate && elapsed > full / rate + 1)
			b->milli = full;
		else
			b->milli += elapsed * rate;
		if (b->milli > full)
			b->milli = full;
		b->last_ms = now_ms;
	}
	if (b->milli < 1000u)
		return false;
	b->milli -= 1000u;
	return true;
}

void
ratelimit_peers_init(struct ratelimit_peers *t, struct ratelimit_peer *slots, size_t max,
		     unsigned burst, unsigned rate)
{
	memset(t, 0, sizeof(*t));
	memset(slots, 0, max * sizeof(*slots));
	t->v = slots;
	t->max = max;
	t->burst = burst;
	t->rate = rate;
}

/* The slot of key, a free one, or the one seen longest ago (cleared). NULL only
 * for a table of 0 slots. */
static struct ratelimit_peer *
slot_for(struct ratelimit_peers *t, const char *key)
{
	struct ratelimit_peer *free_slot = NULL, *oldest = NULL;
	char k[RATELIMIT_KEY_MAX];

	util_strlcpy(k, key, sizeof(k));
	for (size_t i = 0; i < t->max; i++) {
		struct ratelimit_peer *p = &t->v[i];

		if (!p->key[0]) {
			if (!free_slot)
				free_slot = p;
			continue;
		}
		if (strcmp(p->key, k) == 0)
			return p;
		if (!oldest || p->seen_ms < oldest->seen_ms)
			oldest = p;
	}
	if (!free_slot) {
		free_slot = oldest;
		if (!free_slot)
			return NULL;
		t->evicted_suppressed += free_slot->suppressed;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	memcpy(free_slot->key, k, sizeof(k));
	return free_slot;
}

bool
ratelimit_peer_take(struct ratelimit_peers *t, const char *key, uint64_t now_ms,
		    unsigned long *ret_suppressed)
{
	/* "" marks a free slot, so no key may be empty. */
	struct ratelimit_peer *p = slot_for(t, key && *key ? key : "?");

	if (!p)
		return false;
	p->seen_ms = now_ms;
	if (!ratelimit_take(&p->bucket, now_ms, t->burst, t->rate)) {
		p->suppressed++;
		return false;
	}
	*ret_suppressed = p->suppressed;
	p->suppressed = 0;
	return true;
}
