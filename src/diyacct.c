/* diyacct: see diyacct.h. Pure. */
#include "config.h"

#include <string.h>

#include "diyacct.h"
#include "util.h"

void
diyacct_init(struct diyacct *a, const char *file, uint64_t size, const char *peer)
{
	memset(a, 0, sizeof(*a));
	util_strlcpy(a->file, file ? file : "", sizeof(a->file));
	util_strlcpy(a->peer, peer ? peer : "", sizeof(a->peer));
	a->size = size;
}

static bool
ours(const struct diyacct *a, const struct evq_event *ev)
{
	if (a->peer[0] && strcmp(ev->peer, a->peer) != 0)
		return false;
	return ev->type == EVQ_HTTP_DIY_COMPLETION || strcmp(ev->file, a->file) == 0;
}

static bool
grow(struct diyacct *a, uint64_t to, uint64_t now_ms)
{
	if (to <= a->acked)
		return false;
	a->acked = to > a->size ? a->size : to;
	a->progress_ms = now_ms;
	return true;
}

bool
diyacct_event(struct diyacct *a, const struct evq_event *ev, uint64_t now_ms)
{
	bool last;

	if (!ours(a, ev) || ev->head)
		return false;
	last = ev->off + ev->len == a->size && ev->total == a->size;
	switch (ev->type) {
	case EVQ_HTTP_REQUEST:
		if (ev->status != 206 && ev->status != 200)
			return false;
		if (!a->started)
			a->progress_ms = now_ms;
		a->started = true;
		a->requests++;
		a->dropped = false;
		/* asking for offset X: [0, X) arrived (§5.3, strictly sequential) */
		return grow(a, ev->off, now_ms) || a->requests == 1;
	case EVQ_HTTP_PROGRESS:
		if (ev->off + ev->sent > a->sent) {
			a->sent = ev->off + ev->sent;
			return true;
		}
		return false;
	case EVQ_HTTP_DONE:
		if (ev->complete && ev->off + ev->sent > a->sent)
			a->sent = ev->off + ev->sent;
		if (!ev->complete)
			a->dropped = true;
		if (!last)
			return !ev->complete;
		a->last_done = true;
		/* the last range went through ackwatch: acknowledged, or not */
		if (ev->complete)
			grow(a, a->size, now_ms);
		return true;
	case EVQ_HTTP_DIY_COMPLETION:
		if (!ev->diy_valid || a->completion)
			return false;
		a->completion = true;
		a->completion_error = ev->diy_error;
		a->completion_ms = now_ms;
		return true;
	default:
		return false;
	}
}

bool
diyacct_completion_ready(const struct diyacct *a, uint64_t now_ms)
{
	if (!a->completion)
		return false;
	/* a failure code needs no byte count; success waits for the last range's verdict */
	return a->completion_error != 0 || a->last_done || a->acked >= a->size ||
	       now_ms - a->completion_ms >= DIYACCT_HOLD_MS;
}

void
diyacct_progress(const struct diyacct *a, uint64_t now_ms, uint64_t flash_ms, bool left_mdns,
		 struct diyflow_progress *p)
{
	bool ready = diyacct_completion_ready(a, now_ms);

	memset(p, 0, sizeof(*p));
	p->image_size = a->size;
	p->acked = a->acked;
	p->completion_seen = ready;
	p->completion_error = ready ? a->completion_error : 0;
	p->left_mdns = left_mdns;
	p->dropped = a->dropped;
	if (!flash_ms)
		flash_ms = now_ms;
	p->ms_since_flash = (int64_t)(now_ms - flash_ms);
	p->ms_since_progress = (int64_t)(now_ms - (a->started ? a->progress_ms : flash_ms));
	p->ms_since_complete = ready ? (int64_t)(now_ms - a->completion_ms) : 0;
}
