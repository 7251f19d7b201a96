/* transfers: see transfers.h. Runs on the lws loop thread only. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "transfers.h"

#define ARDUINO "image_arduino.bin"
#define USER2 "image_user2-0x81000.bin"

static struct sonota_peer *
peer_find(struct sonota *s, const char *peer)
{
	for (unsigned i = 0; i < SONOTA_PEERS_MAX; i++)
		if (s->peers[i].peer[0] && strcmp(s->peers[i].peer, peer) == 0)
			return &s->peers[i];
	return NULL;
}

void
sonota_peer_bind(struct sonota *s, const char *peer, const char *deviceid)
{
	struct sonota_peer *p = peer_find(s, peer);
	if (!p) {
		for (unsigned i = 0; i < SONOTA_PEERS_MAX && !p; i++)
			if (!s->peers[i].peer[0])
				p = &s->peers[i];
		if (!p) /* full: reuse the first slot, progress is best effort */
			p = &s->peers[0];
		memset(p, 0, sizeof(*p));
		snprintf(p->peer, sizeof(p->peer), "%s", peer);
	}
	snprintf(p->deviceid, sizeof(p->deviceid), "%s", deviceid);
}

/* E2A talks from FinalStage's 192.168.4.1 (the softAP's own address). Only its
 * downloads count: a whole image_arduino.bin fetched by anyone else (a browser, a
 * curl test, a benchmark) says nothing about the device, and counting it would
 * report a takeover that did not happen. */
static bool
is_e2a(const struct evq_event *e)
{
	return strcmp(e->peer, SONOTA_FINAL_PEER) == 0;
}

static const char *
who(struct sonota *s, const struct evq_event *e)
{
	struct sonota_peer *p = peer_find(s, e->peer);
	if (p && p->deviceid[0])
		return p->deviceid;
	if (is_e2a(e) && s->final.deviceid[0])
		return s->final.deviceid;
	return e->peer;
}

static void
on_request(struct sonota *s, const struct evq_event *e)
{
	if (!e->file[0] || e->status >= 400 || e->head)
		return;
	if (is_e2a(e)) {
		s->final.requests++;
		s->final.inflight++;
		log_notice(s->log, "FinalStage: %s started downloading %s (%llu bytes)",
			   e->peer, e->file, (unsigned long long)e->total);
		sonota_event(s, STAGE_EV_E2A_REQUEST);
	}
}

static void
on_progress(struct sonota *s, const struct evq_event *e)
{
	if (e->file[0] && e->len == e->total)
		ui_progress(&s->ui, who(s, e), e->file, e->sent, e->total);
}

static void
on_done(struct sonota *s, const struct evq_event *e)
{
	const char *w = who(s, e);
	bool whole = e->off == 0 && e->len == e->total;
	const char *dir = e->file[0] ? (e->slow ? "/slowota/" : "/ota/") : "";
	const char *name = e->file[0] ? e->file : "?";

	/* The access line: peer, path, range, status, outcome. */
	if (e->head) {
		log_info(s->log, "http %s: HEAD %s%s: %d", e->peer, dir, name, e->status);
		return; /* headers only: neither a download nor an aborted one */
	}
	if (e->status == 206)
		log_info(s->log, "http %s: GET %s%s bytes %llu-%llu/%llu: %d, %s", e->peer, dir, name,
			 (unsigned long long)e->off, (unsigned long long)(e->off + e->len - 1),
			 (unsigned long long)e->total, e->status, e->complete ? "complete" : "aborted");
	else
		log_info(s->log, "http %s: GET %s%s: %d, %llu/%llu bytes, %s", e->peer, dir, name,
			 e->status, (unsigned long long)e->sent, (unsigned long long)e->len,
			 e->complete ? "complete" : "aborted");
	if (!e->file[0] || e->status >= 400)
		return;

	if (!is_e2a(e) && strcmp(e->file, ARDUINO) == 0 && e->complete && whole)
		log_warn(s->log, "%s fetched %s, but only FinalStage's device (%s) counts: "
				 "not the final delivery", e->peer, ARDUINO, SONOTA_FINAL_PEER);
	if (is_e2a(e)) {
		if (s->final.inflight)
			s->final.inflight--;
		if (!e->complete || !whole) {
			s->final.aborted++;
			if (e->sent == e->len && e->len)
				log_warn(s->log, "FinalStage: all %llu bytes of %s were sent, but %s did "
						 "not acknowledge them all (it dropped the connection): "
						 "NOT delivered; E2A retries (up to 3 times)",
					 (unsigned long long)e->len, e->file, e->peer);
			else
				log_warn(s->log, "FinalStage: the download of %s by %s ended after %llu "
						 "of %llu bytes: NOT delivered; E2A retries (up to 3 times)",
					 e->file, e->peer, (unsigned long long)e->sent,
					 (unsigned long long)e->total);
			ui_progress(&s->ui, w, e->file, e->total, e->total); /* end the bar */
			return;
		}
		ui_progress(&s->ui, w, e->file, e->total, e->total);
		if (strcmp(e->file, ARDUINO) == 0) {
			const struct imageset_file *f = imageset_find(&s->images, ARDUINO);
			s->final.delivered = true;
			log_notice(s->log, "FinalStage: %s delivered in full to %s (%llu bytes, "
					   "sha256 %s)", ARDUINO, e->peer, (unsigned long long)e->total,
				   f ? f->info.sha256_hex : "?");
			ui_json(&s->ui, "final-delivered", "peer", e->peer, "file", ARDUINO, NULL);
			sonota_event(s, STAGE_EV_FINAL_DELIVERED);
		} else if (strcmp(e->file, USER2) == 0) {
			s->final.user2_delivered = true;
			log_notice(s->log, "FinalStage: %s delivered in full; the device reboots into "
					   "it, FinalStage goes away and comes back for %s", USER2,
				   ARDUINO);
		}
		return;
	}

	/* A stock device fetching its intermediate image, range by range. */
	struct sonota_peer *p = peer_find(s, e->peer);
	if (!p) {
		sonota_peer_bind(s, e->peer, "");
		p = peer_find(s, e->peer);
	}
	if (!p)
		return;
	if (strcmp(p->file, e->file) != 0 || e->off == 0) {
		snprintf(p->file, sizeof(p->file), "%s", e->file);
		p->got = 0;
	}
	if (e->complete)
		p->got += e->len;
	if (p->got > e->total)
		p->got = e->total;
	if (e->status == 206 || !whole || e->complete)
		ui_progress(&s->ui, w, e->file, p->got, e->total);
}

void
transfers_drain(struct sonota *s)
{
	struct evq_event *e;
	while ((e = evq_pop(&s->evq))) {
		switch (e->type) {
		case EVQ_HTTP_REQUEST:
			on_request(s, e);
			break;
		case EVQ_HTTP_PROGRESS:
			on_progress(s, e);
			break;
		case EVQ_HTTP_DONE:
			on_done(s, e);
			break;
		case EVQ_HTTP_DISPATCH:
			log_notice(s->log, "a device at %s called the plain-HTTP dispatch on port %u "
					   "(old firmware, --legacy)", e->peer, e->port);
			sonota_event(s, STAGE_EV_DEVICE_SEEN);
			break;
		}
		free(e);
	}
}
