/* wss, one connection: peer addresses, the dispatch request and its reply, the
 * websocket upgrade filter, receive (reassembly, limits) and the send queue. See
 * wss.h for the contract, wssint.h for the layout. Runs on the lws loop. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "log.h"
#include "wssint.h"
#include "wssrule.h"

#define WSS_STATUS_UPGRADE_REQUIRED 426 /* RFC 7231 §6.5.15; lws has no name for it */

/* Peer addresses as the image server reports them: the listener is dual-stack, so
 * IPv4 clients come as "::ffff:a.b.c.d"; keep the plain "a.b.c.d". */
void
wss_peer_normalise(char *peer)
{
	static const char mapped[] = "::ffff:";
	size_t n = sizeof(mapped) - 1;
	if (strncasecmp(peer, mapped, n) == 0 && strchr(peer + n, '.'))
		memmove(peer, peer + n, strlen(peer + n) + 1);
}

void
wss_peer_get(struct lws *wsi, char *out, size_t len)
{
	out[0] = '\0';
	lws_get_peer_simple(wsi, out, len);
	wss_peer_normalise(out);
}

struct wss_peer_slot *
wss_peer_find(struct wss_vhd *vhd, int fd)
{
	for (unsigned i = 0; i < WSS_MAX_CONNECTIONS; i++)
		if (vhd->peers[i].fd == fd)
			return &vhd->peers[i];
	return NULL;
}

/* Take the recorded address of fd (and free its slot); "" if none. */
void
wss_peer_take(struct wss_vhd *vhd, int fd, char *out, size_t len)
{
	struct wss_peer_slot *s = fd >= 0 ? wss_peer_find(vhd, fd) : NULL;
	snprintf(out, len, "%s", s ? s->peer : "");
	if (s)
		s->fd = -1;
}

void
wss_frames_free(struct wss_conn *c)
{
	struct wss_frame *f;
	while ((f = c->out_head)) {
		c->out_head = f->next;
		free(f);
	}
	c->out_tail = NULL;
	c->nout = 0;
}

int
wss_send(struct wss_conn *c, const char *text, size_t len)
{
	if (c->closing)
		return -EPIPE;
	if (c->nout >= WSS_OUT_QUEUE_MAX) {
		if (log_peer_allow(c->vhd->log, c->peer))
			log_warn(c->vhd->log, "websocket %s: %u frames queued and none taken, closing",
				 c->peer, c->nout);
		wss_close(c);
		return -ENOBUFS;
	}
	struct wss_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->len = len;
	memcpy(f->buf + LWS_PRE, text, len);
	if (c->out_tail)
		c->out_tail->next = f;
	else
		c->out_head = f;
	c->out_tail = f;
	c->nout++;
	lws_callback_on_writable(c->wsi);
	return 0;
}

void
wss_close(struct wss_conn *c)
{
	c->closing = true;
	lws_callback_on_writable(c->wsi);
}

const char *
wss_peer(const struct wss_conn *c)
{
	return c->peer;
}

static int
http_reply(struct lws *wsi, struct wss_conn *c, int status, char *body)
{
	unsigned char hdr[LWS_PRE + 512], *start = &hdr[LWS_PRE], *p = start,
					  *end = &hdr[sizeof(hdr) - 1];
	size_t len = body ? strlen(body) : 0;

	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end)) {
		free(body);
		return -1;
	}
	c->reply = body;
	c->reply_status = status;
	lws_callback_on_writable(wsi);
	return 0;
}

void
wss_dispatch_done(struct lws *wsi, struct wss_conn *c)
{
	struct wss_vhd *vhd = c->vhd;
	char *reply = NULL;

	if (c->body_too_big) {
		if (log_peer_allow(vhd->log, c->peer))
			log_warn(vhd->log, "dispatch from %s: body over %d bytes, answering 413", c->peer,
				 WSS_DISPATCH_BODY_MAX);
		lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, NULL);
		return;
	}
	if (vhd->ops->on_dispatch)
		reply = vhd->ops->on_dispatch(vhd->arg, c->peer, c->body, c->body_len);
	if (!reply) {
		lws_return_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL);
		return;
	}
	if (http_reply(wsi, c, HTTP_STATUS_OK, reply) < 0)
		lws_return_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL);
}


int
wss_receive(struct lws *wsi, struct wss_conn *c, const void *in, size_t len)
{
	struct wss_vhd *vhd = c->vhd;
	bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);

	/* RFC 6455 §5.2: no extension is negotiated, so any RSV bit is a protocol
	 * error (lws built without extensions lets RSV1 through). */
	if (lws_get_reserved_bits(wsi)) {
		if (log_peer_allow(vhd->log, c->peer))
			log_warn(vhd->log, "websocket %s: frame with reserved bits set (not a device), "
				 "closing with 1002", c->peer);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
		return -1;
	}
	/* Any frame of the peer is a sign of life (wss.h, WSS_IDLE_S). */
	lws_validity_confirmed(wsi);
	if (lws_frame_is_binary(wsi)) {
		/* Logged once per connection: a client can send frames at will. */
		if (!c->binary_noted && log_peer_allow(vhd->log, c->peer))
			log_warn(vhd->log, "websocket %s: binary frame from the device, ignoring "
				 "(and any more on this connection)", c->peer);
		c->binary_noted = true;
		return 0;
	}
	if (first) {
		c->rxlen = 0;
		c->rx_too_big = false;
	}
	/* Fast path: a whole message in one callback needs no copy. */
	if (first && final && !c->rx_too_big) {
		if (len > WSS_MSG_MAX)
			goto too_big;
		if (vhd->ops->on_text)
			vhd->ops->on_text(vhd->arg, c->user, c, in, len);
		return 0;
	}
	if (c->rx_too_big || c->rxlen + len > WSS_MSG_MAX)
		goto too_big;
	if (!c->rx) {
		c->rx = malloc(WSS_MSG_MAX);
		if (!c->rx)
			return -1;
	}
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	if (final && vhd->ops->on_text)
		vhd->ops->on_text(vhd->arg, c->user, c, c->rx, c->rxlen);
	return 0;
too_big:
	if (log_peer_allow(vhd->log, c->peer))
		log_warn(vhd->log, "websocket %s: message over %d bytes (device bug or not a device), closing",
			 c->peer, WSS_MSG_MAX);
	c->rx_too_big = true;
	lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
	return -1;
}

/* Answer a refused request with status and no body, then have lws close the
 * connection (it flushes what is queued first). extra: one more header or 0. */
static int
refuse(struct lws *wsi, unsigned status, enum lws_token_indexes extra, const char *value)
{
	unsigned char hdr[LWS_PRE + 256], *start = &hdr[LWS_PRE], *p = start,
					  *end = &hdr[sizeof(hdr) - 1];

	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    (extra && lws_add_http_header_by_token(wsi, extra, (const unsigned char *)value,
						  (int)strlen(value), &p, end)) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5, &p, end) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
	return -1;
}

/* POST /dispatch/device arrived (headers only). The body is read only when its
 * length is announced and within WSS_DISPATCH_BODY_MAX: without Content-Length lws
 * would wait for a body it cannot delimit until its timeout. */
int
wss_dispatch_start(struct lws *wsi, struct wss_conn *c)
{
	char cl[24];

	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
		if (log_peer_allow(c->vhd->log, c->peer))
			log_warn(c->vhd->log, "dispatch from %s: no Content-Length (not a device), "
				 "answering 411", c->peer);
		return refuse(wsi, HTTP_STATUS_LENGTH_REQUIRED, 0, NULL);
	}
	char *e;
	errno = 0;
	unsigned long long n = strtoull(cl, &e, 10);
	if (errno || e == cl || *e || cl[0] == '-' || n > WSS_DISPATCH_BODY_MAX) {
		if (log_peer_allow(c->vhd->log, c->peer))
			log_warn(c->vhd->log, "dispatch from %s: Content-Length \"%s\" over %d bytes, "
				 "answering 413", c->peer, cl, WSS_DISPATCH_BODY_MAX);
		return refuse(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, 0, NULL);
	}
	c->is_dispatch = true;
	return 0; /* wait for the body */
}

/* The websocket upgrade request, before lws answers it (RFC 6455 §4.2.1): the
 * path must be /api/ws, the key 16 base64-encoded bytes and the version 13. A
 * refusal is answered (400, or 426 naming version 13) and the connection closed. */
int
wss_upgrade_filter(struct lws *wsi, struct wss_vhd *vhd)
{
	char uri[64], key[64], version[16], peer[WSS_PEER_MAX];

	wss_peer_get(wsi, peer, sizeof(peer));
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, "/api/ws") != 0) {
		if (log_peer_allow(vhd->log, peer))
			log_info(vhd->log, "websocket upgrade from %s on a path other than /api/ws, "
				 "refused", peer);
		return refuse(wsi, HTTP_STATUS_NOT_FOUND, 0, NULL);
	}
	if (lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_VERSION) <= 0 ||
	    !wss_version_valid(version)) {
		if (log_peer_allow(vhd->log, peer))
			log_info(vhd->log, "websocket upgrade from %s: Sec-WebSocket-Version is not 13 "
				 "(not a device), refused", peer);
		return refuse(wsi, WSS_STATUS_UPGRADE_REQUIRED, WSI_TOKEN_VERSION, "13");
	}
	if (lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY) <= 0 || !wss_key_valid(key)) {
		if (log_peer_allow(vhd->log, peer))
			log_info(vhd->log, "websocket upgrade from %s: malformed Sec-WebSocket-Key "
				 "(not a device), refused", peer);
		return refuse(wsi, HTTP_STATUS_BAD_REQUEST, 0, NULL);
	}
	return 0;
}

