/* wss: see wss.h. libwebsockets callback adapter for HTTPS dispatch + WSS: the
 * protocol callback, accept bookkeeping (peer slots, handshake limit, TLS aborts) and
 * the vhost. One connection's requests, frames and queue are in wssconn.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "wssint.h"
#include "wssrule.h"

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

static void
tls_abort(void *arg, const char *peer)
{
	struct wss_vhd *vhd = arg;
	if (vhd->ops->on_tls_abort)
		vhd->ops->on_tls_abort(vhd->arg, peer);
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
		struct wss_peer_slot *slot = wss_peer_find(vhd, fd); /* a stale entry of a reused fd */
		if (!slot)
			slot = wss_peer_find(vhd, -1);
		if (!slot || vhd->connections >= WSS_MAX_CONNECTIONS) {
			char peer[WSS_PEER_MAX] = "";
			lws_get_peer_simple_fd(fd, peer, sizeof(peer));
			wss_peer_normalise(peer);
			if (log_peer_allow(vhd->log, peer))
				log_warn(vhd->log, "https: %u connections open, refusing another from %s",
					 vhd->connections, peer);
			return 1;
		}
		slot->fd = fd;
		slot->peer[0] = '\0';
		lws_get_peer_simple_fd(fd, slot->peer, sizeof(slot->peer));
		wss_peer_normalise(slot->peer);
		return 0;
	}

	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
		if (!vhd)
			return 0;
		vhd->connections++;
		struct wss_accept *a = calloc(1, sizeof(*a));
		if (!a)
			return 0;
		wss_peer_take(vhd, (int)lws_get_socket_fd(wsi), a->peer, sizeof(a->peer));
		if (!a->peer[0])
			wss_peer_get(wsi, a->peer, sizeof(a->peer));
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
		wss_peer_get(wsi, c->peer, sizeof(c->peer));
		const char *path = in;
		bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		if (post && path && strcmp(path, "/dispatch/device") == 0)
			return wss_dispatch_start(wsi, c);
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
		wss_dispatch_done(wsi, c);
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
			wss_peer_take(vhd, fd, peer, sizeof(peer));
			/* lws calls this before its close(): the socket is still open. */
			fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
			if (fd >= 0)
				wss_abort_judge(&vhd->aborts, fd, false, false,
						peer[0] ? peer : "an unknown address");
		}
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		mark_request(wsi);
		return wss_upgrade_filter(wsi, vhd);

	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		c->vhd = vhd;
		c->is_ws = true;
		wss_peer_get(wsi, c->peer, sizeof(c->peer));
		c->user = vhd->ops->on_open ? vhd->ops->on_open(vhd->arg, c, c->peer) : NULL;
		if (!c->user) {
			c->is_ws = false;
			return -1;
		}
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (!c->is_ws)
			return -1;
		return wss_receive(wsi, c, in, len);

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
			wss_frames_free(c);
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
	 * without a sign of life (a pong, or a frame: wss_receive) and closes it at
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
	/* Initialise its protocol now, not at the first service: lws frees nothing on
	 * PROTOCOL_DESTROY for a vhost whose protocol never saw PROTOCOL_INIT, so an exit
	 * before the loop first ran (a pre-flight refusal) would leak vhd. */
	lws_protocol_init(ctx);
	*ret = vh;
	return 0;
}
