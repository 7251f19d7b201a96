/* wss: the emulated cloud's transport on libwebsockets (mbedTLS): HTTPS
 * `POST /dispatch/device` and the `/api/ws` websocket on one TLS port (8443, or
 * 443 with --legacy), PROTOCOL.md §3.1-3.2.
 *
 * A thin adapter: it moves bytes and frames, enforces the named limits below and
 * notices devices that drop the TLS handshake; what the bytes mean is the owner's
 * business, through struct wss_ops (sonota.c feeds them to session.c).
 *
 * Refused here (wssrule.h holds the pure checks):
 *  - a connection without a first HTTP request WSS_HANDSHAKE_S after its accept
 *    (a ClientHello whose length field lies, a silent client): closed;
 *  - POST /dispatch/device without Content-Length: 411 at once; announcing more
 *    than WSS_DISPATCH_BODY_MAX: 413 at once (the body is not read); both close;
 *  - a websocket upgrade on another path (404), with a Sec-WebSocket-Version
 *    other than 13 (426, naming 13) or a Sec-WebSocket-Key that is not 16
 *    base64-encoded bytes (400): answered as HTTP/1.0 by lws, then closed;
 *  - a frame with any RSV bit set (no extension is ever negotiated): close 1002;
 *  - an established websocket with no sign of life (a frame, or a pong to the
 *    ping sent after WSS_IDLE_S / 2) for WSS_IDLE_S: closed.
 * Not refused, because lws 4.1 cannot tell: an UNMASKED client frame. lws unmasks
 * with the frame's key and a frame without one reads exactly like a frame masked
 * with a zero key (which RFC 6455 allows); no callback or option exposes the
 * mask bit. Such a frame is acted on like a masked one (test-wss checks this).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws_context;
struct lws_vhost;
struct log;

#define WSS_MSG_MAX 4096           /* one device text message (= PROTO_MSG_MAX); bigger closes */
#define WSS_DISPATCH_BODY_MAX 2048 /* dispatch POST body; real ones are ~180 bytes */
#define WSS_MAX_CONNECTIONS 512    /* TLS connections at once (200 devices in the benchmark,
				    * each with a dispatch and a websocket connection) */
#define WSS_OUT_QUEUE_MAX 32       /* frames queued per connection (a register..upgrade
				    * batch is < 10); more means a stuck peer: close */
#define WSS_HEADER_MAX 2048        /* HTTP header bytes a client may send */
#define WSS_HANDSHAKE_S 6          /* accept to first HTTP request (TLS handshake included);
				    * an ESP8266 needs 1-3 s (RSA-2048 over WiFi). A
				    * ClientHello whose length field promises bytes that
				    * never come is closed then (lws alone: 10 s) */
#define WSS_ABORT_GRACE_MS 500    /* a failed handshake whose peer is still connected
				    * waits this long for its FIN (on_tls_abort) */
#define WSS_IDLE_S 300             /* an established websocket without a sign of life (a
				    * data frame, or a pong) this long is closed. The
				    * server pings after WSS_IDLE_S / 2 of silence; a
				    * device answers a ping at once (third-party clouds
				    * ping every 30 s, PROTOCOL.md §3.2). The device's own
				    * pings (every 145 s) are answered by lws unseen and
				    * do not count */

struct wss_conn; /* one websocket connection; valid from on_open to on_close */

struct wss_ops {
	/* POST /dispatch/device arrived with this body (not NUL-terminated). Return the
	 * malloc'd JSON reply (freed by wss), or NULL to answer 500. */
	char *(*on_dispatch)(void *arg, const char *peer, const char *body, size_t len);
	/* A websocket opened on /api/ws. Return the owner's per-connection pointer, or
	 * NULL to refuse (the connection is closed). */
	void *(*on_open)(void *arg, struct wss_conn *c, const char *peer);
	/* One complete text message (not NUL-terminated, at most WSS_MSG_MAX bytes). */
	void (*on_text)(void *arg, void *user, struct wss_conn *c, const char *buf, size_t len);
	/* The websocket closed; user is what on_open returned. c is invalid afterwards. */
	void (*on_close)(void *arg, void *user);
	/* The peer aborted the TLS handshake: typically firmware that pins the real
	 * cloud's certificate (>= 1.6 / >= 2.6), which drops the connection as soon as
	 * it sees ours. The exact rule (wss_is_tls_abort in wssrule.h), judged from
	 * TCP_INFO while lws closes the socket:
	 *  - the PEER ended the connection first: it sent FIN or reset it (not a
	 *    connection we closed: WSS_HANDSHAKE_S, lws' own timeouts, load, refusals).
	 *    When lws fails the handshake on the peer's fatal alert before its FIN
	 *    arrived, the FIN is awaited WSS_ABORT_GRACE_MS (the socket held open);
	 *  - after its ClientHello: our answer to it (server hello and certificate) had
	 *    reached the peer, which acknowledged it (a port scan, or a client that
	 *    leaves before finishing its ClientHello, is not reported);
	 *  - before its first HTTP request. lws' mbedTLS backend reports no "handshake
	 *    finished" moment (its SSL_INFO callback is never raised), so a client that
	 *    completes the handshake and then closes without any request is counted
	 *    too; pinned firmware never completes it.
	 * Reported at most once per connection. */
	void (*on_tls_abort)(void *arg, const char *peer);
};

struct wss_opts {
	const char *name;      /* vhost name, for logs ("https") */
	uint16_t port;         /* 8443 / 443 */
	const char *bind;      /* listen address, NULL = every interface */
	const char *cert;      /* PEM certificate path */
	const char *key;       /* PEM key path */
	const struct wss_ops *ops;
	void *arg;             /* passed to every op */
	struct log *log;
	unsigned handshake_s;  /* accept-to-request limit, 0 = WSS_HANDSHAKE_S (tests pass less) */
	unsigned idle_s;       /* websocket idle limit, 2..65535; 0 (or 1) = WSS_IDLE_S */
};

/* Create the listening vhost. The port is bound here, so a busy port fails now:
 * -EADDRINUSE, or -EACCES for a privileged port without the right, with err naming
 * the port. Returns 0 or -errno. */
int wss_vhost_create(struct lws_context *ctx, const struct wss_opts *o, struct lws_vhost **ret,
		     char *err, size_t errlen);

/* Queue a text frame (copied) on c. Returns 0, -ENOBUFS when the queue is full (the
 * connection is then closed), -ENOMEM, or -EPIPE when c is closing. */
int wss_send(struct wss_conn *c, const char *text, size_t len);

/* Close c once its queued frames are out. */
void wss_close(struct wss_conn *c);

/* The peer address of c ("a.b.c.d"). */
const char *wss_peer(const struct wss_conn *c);
