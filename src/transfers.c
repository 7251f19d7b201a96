/* transfers: see transfers.h. Runs on the lws loop thread only. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "transfers.h"
#include "verdict.h"

static bool
is_e2a(const struct evq_event *e)
{
	return strcmp(e->peer, VERDICT_FINAL_PEER) == 0;
}

static const char *
who(struct transfers *t, const struct evq_event *e)
{
	const char *id = peers_deviceid(t->peers, e->peer);
	if (id)
		return id;
	if (is_e2a(e) && t->final_deviceid && t->final_deviceid[0])
		return t->final_deviceid;
	return e->peer;
}

/* Old firmware's evidence (PROTOCOL.md §3.6, §4): a user image by a plain GET
 * (no Range, answered 200) at full speed. */
static bool
plain_user_fetch(const struct evq_event *e)
{
	return e->status == 200 && !e->slow && !e->head && strncmp(e->file, "image_user", 10) == 0;
}

static void
on_request(struct transfers *t, const struct evq_event *e)
{
	if (!e->file[0] || e->status >= 400 || e->head)
		return;
	if (is_e2a(e)) {
		t->requests++;
		t->inflight++;
		log_notice(t->log, "FinalStage: %s started downloading %s (%llu bytes)", e->peer,
			   e->file, (unsigned long long)e->total);
		t->post(t->post_arg, TRANSFERS_E2A_REQUEST);
	} else if (plain_user_fetch(e)) {
		/* Recorded when the request starts, not only when it ends: a device that
		 * fails such a download may ack 404 before its connection's end is drained. */
		peers_bind(t->peers, e->peer, "")->plain_fetch = true;
	}
}

static void
on_progress(struct transfers *t, const struct evq_event *e)
{
	if (e->file[0] && e->len == e->total)
		ui_progress(t->ui, who(t, e), e->file, e->sent, e->total);
}

static void
access_line(struct transfers *t, const struct evq_event *e)
{
	const char *dir = e->file[0] ? (e->slow ? "/slowota/" : "/ota/") : "";
	const char *name = e->file[0] ? e->file : "?";
	if (!log_peer_allow(t->log, e->peer))
		return; /* over this address's budget: counted, reported with its next line */
	if (e->head)
		log_info(t->log, "http %s: HEAD %s%s: %d", e->peer, dir, name, e->status);
	else if (e->status == 206)
		log_info(t->log, "http %s: GET %s%s bytes %llu-%llu/%llu: %d, %s", e->peer, dir, name,
			 (unsigned long long)e->off, (unsigned long long)(e->off + e->len - 1),
			 (unsigned long long)e->total, e->status, e->complete ? "complete" : "aborted");
	else
		log_info(t->log, "http %s: GET %s%s: %d, %llu/%llu bytes, %s", e->peer, dir, name,
			 e->status, (unsigned long long)e->sent, (unsigned long long)e->len,
			 e->complete ? "complete" : "aborted");
}

/* A stock device fetching its intermediate image, range by range. */
static void
stock_progress(struct transfers *t, const struct evq_event *e)
{
	bool whole = e->off == 0 && e->len == e->total;
	struct peers_entry *p = peers_bind(t->peers, e->peer, "");
	if (strcmp(p->file, e->file) != 0 || e->off == 0) {
		snprintf(p->file, sizeof(p->file), "%s", e->file);
		p->got = 0;
	}
	if (plain_user_fetch(e))
		p->plain_fetch = true;
	if (e->complete)
		p->got += e->len;
	if (p->got > e->total)
		p->got = e->total;
	if (e->status == 206 || !whole || e->complete)
		ui_progress(t->ui, who(t, e), e->file, p->got, e->total);
}

static void
on_done(struct transfers *t, const struct evq_event *e)
{
	const char *w = who(t, e);
	access_line(t, e);
	if (e->head || !e->file[0] || e->status >= 400)
		return; /* headers only, or an error: neither a download nor an aborted one */

	struct verdict_in in = {
		.final_peer = is_e2a(e), .file = e->file, .status = e->status, .head = e->head,
		.complete = e->complete, .off = e->off, .len = e->len, .total = e->total,
	};
	enum verdict v = verdict_decide(&in);
	if (v == VERDICT_STRAY)
		log_warn(t->log, "%s fetched %s, but only FinalStage's device (%s) counts: not the "
				 "final delivery", e->peer, VERDICT_FINAL_FILE, VERDICT_FINAL_PEER);
	if (!is_e2a(e)) {
		stock_progress(t, e);
		return;
	}
	if (t->inflight)
		t->inflight--;
	ui_progress(t->ui, w, e->file, e->total, e->total); /* end the bar */
	switch (v) {
	case VERDICT_ABORTED_RETRY:
		t->aborted++;
		if (e->sent == e->len && e->len)
			log_warn(t->log, "FinalStage: all %llu bytes of %s were sent, but %s did not "
					 "acknowledge them all (it dropped the connection): NOT "
					 "delivered; E2A retries (up to 3 times)",
				 (unsigned long long)e->len, e->file, e->peer);
		else
			log_warn(t->log, "FinalStage: the download of %s by %s ended after %llu of %llu "
					 "bytes: NOT delivered; E2A retries (up to 3 times)",
				 e->file, e->peer, (unsigned long long)e->sent,
				 (unsigned long long)e->total);
		break;
	case VERDICT_DELIVERED: {
		const struct imageset_file *f = imageset_find(t->images, VERDICT_FINAL_FILE);
		t->delivered = true;
		log_notice(t->log, "FinalStage: %s delivered in full to %s (%llu bytes, sha256 %s)",
			   VERDICT_FINAL_FILE, e->peer, (unsigned long long)e->total,
			   f ? f->info.sha256_hex : "?");
		ui_json(t->ui, "final-delivered", "peer", e->peer, "file", VERDICT_FINAL_FILE, NULL);
		break;
	}
	case VERDICT_USER2:
		t->user2_delivered = true;
		log_notice(t->log, "FinalStage: %s delivered in full; the device reboots into it, "
				   "FinalStage goes away and comes back for %s",
			   VERDICT_USER2_FILE, VERDICT_FINAL_FILE);
		t->post(t->post_arg, TRANSFERS_USER2_DELIVERED);
		break;
	default:
		break;
	}
	t->post(t->post_arg, TRANSFERS_E2A_ENDED);
	if (v == VERDICT_DELIVERED)
		t->post(t->post_arg, TRANSFERS_FINAL_DELIVERED);
}

void
transfers_handle(struct transfers *t, const struct evq_event *e)
{
	switch (e->type) {
	case EVQ_HTTP_REQUEST:
		on_request(t, e);
		break;
	case EVQ_HTTP_PROGRESS:
		on_progress(t, e);
		break;
	case EVQ_HTTP_DONE:
		on_done(t, e);
		break;
	case EVQ_HTTP_DISPATCH:
		if (log_peer_allow(t->log, e->peer))
			log_notice(t->log, "a device at %s called the plain-HTTP dispatch on port %u (old "
				   "firmware, --legacy)", e->peer, e->port);
		t->post(t->post_arg, TRANSFERS_DEVICE_SEEN);
		break;
	case EVQ_HTTP_DIY_COMPLETION:
		/* Served only by a DIY route's image server (not wired yet, docs/diy.md). */
		break;
	}
}

void
transfers_drain(struct transfers *t, struct evq *q)
{
	struct evq_event *e;
	while ((e = evq_pop(q))) {
		transfers_handle(t, e);
		free(e);
	}
}

void
transfers_next_device(struct transfers *t)
{
	t->user2_delivered = false;
}
