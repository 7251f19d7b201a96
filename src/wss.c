/* wss: see wss.h. libwebsockets callback adapter for HTTPS dispatch + WSS. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "wss.h"
#include "wssabort.h"
#include "wssrule.h"

#define WSS_PEER_MAX 48
#define WSS_STATUS_UPGRADE_REQUIRED 426 /* RFC 7231 §6.5.15; lws has no name for it */

/* Per-vhost data, owned by wss_vhost_create's caller through the vhost's user
 * pointer (allocated here, freed on LWS_CALLBACK_PROTOCOL_DESTROY). */
struct wss_peer_slot {
	int fd;                     /* accepted socket, -1 = free */
	char peer[WSS_PEER_MAX];    /* its address, taken while it was connected */
};

struct wss_vhd {
	struct wss_abort aborts;    /* judges connections that end without a request */
	const struct wss_ops *ops;
	void *arg;
	struct log *log;
	unsigned handshake_s;       /* accept-to-first-request limit (wss_opts) */
	lws_retry_bo_t idle;        /* websocket idle policy, lives as long as the vhost */
	unsigned connections;       /* accepted TCP connections open now */
	/* Peer addresses by socket, recorded at accept: a client that drops the
	 * handshake is gone before lws lets us ask getpeername(). */
	struct wss_peer_slot peers[WSS_MAX_CONNECTIONS];
};

/* Peer addresses as the image server reports them: the listener is dual-stack, so
 * IPv4 clients come as "::ffff:a.b.c.d"; keep the plain "a.b.c.d". */
static void
peer_normalise(char *peer)
{
	static const char mapped[] = "::ffff:";
	size_t n = sizeof(mapped) - 1;
	if (strncasecmp(peer, mapped, n) == 0 && strchr(peer + n, '.'))
		memmove(peer, peer + n, strlen(peer + n) + 1);
}

static void
peer_get(struct lws *wsi, char *out, size_t len)
{
	out[0] = '\0';
	lws_get_peer_simple(wsi, out, len);
	peer_normalise(out);
}

static struct wss_peer_slot *
peer_slot(struct wss_vhd *vhd, int fd)
{
	for (unsigned i = 0; i < WSS_MAX_CONNECTIONS; i++)
		if (vhd->peers[i].fd == fd)
			return &vhd->peers[i];
	return NULL;
}

/* Take the recorded address of fd (and free its slot); "" if none. */
static void
peer_take(struct wss_vhd *vhd, int fd, char *out, size_t len)
{
	struct wss_peer_slot *s = fd >= 0 ? peer_slot(vhd, fd) : NULL;
	snprintf(out, len, "%s", s ? s->peer : "");
	if (s)
		s->fd = -1;
}

/* A frame waiting to be sent. The LWS_PRE bytes in front of the payload are
 * lws' headroom for the websocket header. */
struct wss_frame {
	struct wss_frame *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
};

/* Tracks an accepted connection until it sends its first HTTP request, to notice
 * clients that drop the TLS handshake. Hung on the wsi as opaque user data. */
struct wss_accept {
	struct lws *wsi;
	lws_sorted_usec_list_t handshake; /* WSS_HANDSHAKE_S: accept to first request */
	char peer[WSS_PEER_MAX];
	bool saw_request;
	bool expired;                    /* we closed it at WSS_HANDSHAKE_S */
	/* A dup of the socket until the first request, -1 after: lws gives no
	 * callback between a failed handshake and its close(), and the TLS abort
	 * rule needs the socket's TCP state then (wss_abort_judge in WSI_DESTROY). */
	int dupfd;
};

/* The handshake limit passed before the first request: a ClientHello whose length
 * promises bytes that never come, or a client silent after its handshake. lws'
 * own timeouts cannot be used for this: the header table it attaches after the
 * accept callback re-arms the connection's one timeout with its 10 s idle value. */
static void
handshake_expired(lws_sorted_usec_list_t *sul)
{
	struct wss_accept *a = lws_container_of(sul, struct wss_accept, handshake);
	if (!a->saw_request) {
		a->expired = true;
		lws_set_timeout(a->wsi, PENDING_TIMEOUT_SSL_ACCEPT, LWS_TO_KILL_ASYNC);
	}
}

/* Per-session data (lws pss), for both the dispatch request and the websocket. */
struct wss_conn {
	struct lws *wsi;
	struct wss_vhd *vhd;
	void *user;                     /* owner's pointer from on_open */
	bool is_ws;                     /* an established websocket */
	bool closing;                   /* close once the queue is empty */
	char peer[WSS_PEER_MAX];
	/* websocket */
	struct wss_frame *out_head, *out_tail;
	unsigned nout;
	char *rx;                       /* reassembly of a fragmented message */
	size_t rxlen;
	bool rx_too_big;
	bool binary_noted;              /* a binary frame was logged on this connection */
	/* dispatch */
	bool is_dispatch;
	bool body_too_big;
	size_t body_len;
	char body[WSS_DISPATCH_BODY_MAX];
	char *reply;                    /* malloc'd reply body, sent on writable */
	int reply_status;
};

static void
tls_abort(void *arg, const char *peer)
{
	struct wss_vhd *vhd = arg;
	if (vhd->ops->on_tls_abort)
		vhd->ops->on_tls_abort(vhd->arg, peer);
}

static void
frames_free(struct wss_conn *c)
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

static void
dispatch_done(struct lws *wsi, struct wss_conn *c)
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

static void
mark_request(struct lws *wsi)
{
	struct wss_accept *a = lws_get_opaque_user_data(wsi);
	if (a) {
		a->saw_request = true;
		lws_sul_cancel(&a->handshake);
		if (a->dupfd >= 0)
			close(a->dupfd);
		a->dupfd = -1;
	}
}

static int
ws_receive(struct lws *wsi, struct wss_conn *c, const void *in, size_t len)
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
static int
dispatch_start(struct lws *wsi, struct wss_conn *c)
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
static int
ws_filter(struct lws *wsi, struct wss_vhd *vhd)
{
	char uri[64], key[64], version[16], peer[WSS_PEER_MAX];

	peer_get(wsi, peer, sizeof(peer));
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

static int
wss_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct wss_vhd *vhd = vh ? lws_vhost_user(vh) : NULL;
	struct wss_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		if (!vhd)
			return 0;
		int fd = (int)(intptr_t)in;
		struct wss_peer_slot *slot = peer_slot(vhd, fd); /* a stale entry of a reused fd */
		if (!slot)
			slot = peer_slot(vhd, -1);
		if (!slot || vhd->connections >= WSS_MAX_CONNECTIONS) {
			char peer[WSS_PEER_MAX] = "";
			lws_get_peer_simple_fd(fd, peer, sizeof(peer));
			peer_normalise(peer);
			if (log_peer_allow(vhd->log, peer))
				log_warn(vhd->log, "https: %u connections open, refusing another from %s",
					 vhd->connections, peer);
			return 1;
		}
		slot->fd = fd;
		slot->peer[0] = '\0';
		lws_get_peer_simple_fd(fd, slot->peer, sizeof(slot->peer));
		peer_normalise(slot->peer);
		return 0;
	}

	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
		if (!vhd)
			return 0;
		vhd->connections++;
		struct wss_accept *a = calloc(1, sizeof(*a));
		if (!a)
			return 0;
		peer_take(vhd, (int)lws_get_socket_fd(wsi), a->peer, sizeof(a->peer));
		if (!a->peer[0])
			peer_get(wsi, a->peer, sizeof(a->peer));
		a->wsi = wsi;
		/* No dup (EMFILE): the connection is simply never judged an abort. */
		a->dupfd = fcntl((int)lws_get_socket_fd(wsi), F_DUPFD_CLOEXEC, 0);
		lws_set_opaque_user_data(wsi, a);
		lws_sul_schedule(lws_get_context(wsi), 0, &a->handshake, handshake_expired,
				 (lws_usec_t)vhd->handshake_s * LWS_US_PER_SEC);
		return 0;
	}

	case LWS_CALLBACK_WSI_DESTROY: {
		struct wss_accept *a = lws_get_opaque_user_data(wsi);
		if (!a)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		lws_sul_cancel(&a->handshake);
		if (vhd && vhd->connections)
			vhd->connections--;
		/* lws closed its descriptor; ours keeps the socket and its state. */
		if (a->dupfd >= 0 && vhd)
			wss_abort_judge(&vhd->aborts, a->dupfd, a->saw_request, a->expired,
					a->peer);
		else if (a->dupfd >= 0)
			close(a->dupfd);
		free(a);
		return 0;
	}

	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		mark_request(wsi);
		return 0;

	case LWS_CALLBACK_HTTP: {
		mark_request(wsi);
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		c->vhd = vhd;
		peer_get(wsi, c->peer, sizeof(c->peer));
		const char *path = in;
		bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		if (post && path && strcmp(path, "/dispatch/device") == 0)
			return dispatch_start(wsi, c);
		if (log_peer_allow(vhd->log, c->peer))
			log_info(vhd->log, "https %s: %s %s: not found", c->peer, post ? "POST" : "GET",
				 path ? path : "?");
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}

	case LWS_CALLBACK_HTTP_BODY:
		if (!c->is_dispatch)
			return -1;
		if (c->body_len + len > sizeof(c->body)) {
			c->body_too_big = true;
			return 0;
		}
		memcpy(c->body + c->body_len, in, len);
		c->body_len += len;
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!c->is_dispatch)
			return -1;
		dispatch_done(wsi, c);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!c->reply)
			return 0;
		size_t n = strlen(c->reply);
		unsigned char *buf = malloc(LWS_PRE + n + 1);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, c->reply, n);
		free(c->reply);
		c->reply = NULL;
		int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (w < (int)n)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}

	case LWS_CALLBACK_CLOSED_HTTP:
		if (c) {
			free(c->reply);
			c->reply = NULL;
		}
		/* A connection that fails its TLS handshake early is closed by lws
		 * before it is ever instantiated (no accept record): it sent no request.
		 * Later failures take the WSI_DESTROY path instead; one of the two
		 * judges each such connection (wss_is_tls_abort), never both. */
		if (vhd && !lws_get_opaque_user_data(wsi)) {
			char peer[WSS_PEER_MAX];
			int fd = (int)lws_get_socket_fd(wsi);
			peer_take(vhd, fd, peer, sizeof(peer));
			/* lws calls this before its close(): the socket is still open. */
			fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
			if (fd >= 0)
				wss_abort_judge(&vhd->aborts, fd, false, false,
						peer[0] ? peer : "an unknown address");
		}
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		mark_request(wsi);
		return ws_filter(wsi, vhd);

	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		c->vhd = vhd;
		c->is_ws = true;
		peer_get(wsi, c->peer, sizeof(c->peer));
		c->user = vhd->ops->on_open ? vhd->ops->on_open(vhd->arg, c, c->peer) : NULL;
		if (!c->user) {
			c->is_ws = false;
			return -1;
		}
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (!c->is_ws)
			return -1;
		return ws_receive(wsi, c, in, len);

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (!c->is_ws)
			return -1;
		struct wss_frame *f = c->out_head;
		if (!f) {
			if (c->closing) {
				lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
				return -1;
			}
			return 0;
		}
		c->out_head = f->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->nout--;
		int w = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
		bool short_write = w < (int)f->len;
		free(f);
		if (short_write)
			return -1;
		if (c->out_head || c->closing)
			lws_callback_on_writable(wsi);
		return 0;
	}

	case LWS_CALLBACK_CLOSED:
		if (c && c->is_ws) {
			c->is_ws = false;
			if (vhd->ops->on_close)
				vhd->ops->on_close(vhd->arg, c->user);
			c->user = NULL;
			frames_free(c);
			free(c->rx);
			c->rx = NULL;
		}
		return 0;

	case LWS_CALLBACK_PROTOCOL_DESTROY:
		/* The vhost is going: its user data (allocated in wss_vhost_create) too,
		 * and connections still waiting for a verdict (none is given). */
		if (!vhd)
			return 0;
		wss_abort_fini(&vhd->aborts);
		free(vhd);
		return 0;

	default:
		return 0;
	}
}

/* The listener's protocol list; it lives as long as any vhost using it. The one
 * protocol takes both plain HTTP (dispatch) and the websocket: devices send no
 * Sec-WebSocket-Protocol, so lws binds their upgrade to the first entry. */
static const struct lws_protocols wss_protocols[] = {
	{
		.name = "sonota-cloud",
		.callback = wss_callback,
		.per_session_data_size = sizeof(struct wss_conn),
		.rx_buffer_size = WSS_MSG_MAX,
	},
	{ 0 } /* terminator */
};

/* lws does not say why a listen failed; try the bind ourselves first so the user
 * gets "port 443 needs root" or "port 8443 is busy" instead of a generic error. */
static int
probe_bind(const char *addr, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (addr && inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "listen address \"%s\" is not an IPv4 address", addr);
		return -EINVAL;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int r = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ? -errno : 0;
	close(fd);
	if (r == -EADDRINUSE)
		snprintf(err, errlen, "port %u is busy: another program (or another sonota-c) "
				      "listens there", port);
	else if (r == -EACCES)
		snprintf(err, errlen, "port %u needs privileges: run as root, or grant "
				      "CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep sonota-c)",
			 port);
	else if (r < 0)
		snprintf(err, errlen, "cannot bind port %u: %s", port, strerror(-r));
	return r;
}

int
wss_vhost_create(struct lws_context *ctx, const struct wss_opts *o, struct lws_vhost **ret,
		 char *err, size_t errlen)
{
	int r = probe_bind(o->bind, o->port, err, errlen);
	if (r < 0)
		return r;

	struct wss_vhd *vhd = calloc(1, sizeof(*vhd));
	if (!vhd)
		return -ENOMEM;
	for (unsigned i = 0; i < WSS_MAX_CONNECTIONS; i++)
		vhd->peers[i].fd = -1;
	vhd->aborts = (struct wss_abort){ .ctx = ctx, .cb = tls_abort, .arg = vhd };
	vhd->ops = o->ops;
	vhd->arg = o->arg;
	vhd->log = o->log;
	vhd->handshake_s = o->handshake_s ? o->handshake_s : WSS_HANDSHAKE_S;
	/* lws' validity timer: it pings an established websocket after idle / 2
	 * without a sign of life (a pong, or a frame: ws_receive) and closes it at
	 * idle. Only those two fields matter on a server. */
	unsigned idle = o->idle_s >= 2 && o->idle_s <= UINT16_MAX ? o->idle_s : WSS_IDLE_S;
	vhd->idle.secs_since_valid_ping = (uint16_t)(idle / 2);
	vhd->idle.secs_since_valid_hangup = (uint16_t)idle;

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.vhost_name = o->name;
	info.port = o->port;
	info.iface = o->bind;
	info.protocols = wss_protocols;
	info.user = vhd;
	info.ssl_cert_filepath = o->cert;
	info.ssl_private_key_filepath = o->key;
	info.max_http_header_data = WSS_HEADER_MAX;
	info.keepalive_timeout = 10;
	info.retry_and_idle_policy = &vhd->idle;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_SKIP_SERVER_CANONICAL_NAME;
	if (o->bind)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;

	struct lws_vhost *vh = lws_create_vhost(ctx, &info);
	if (!vh) {
		free(vhd);
		snprintf(err, errlen, "cannot start the HTTPS listener on port %u (certificate "
				      "\"%s\" or key unusable?)", o->port, o->cert);
		return -EIO;
	}
	*ret = vh;
	return 0;
}
