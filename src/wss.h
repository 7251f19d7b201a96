/* wss: the emulated cloud's transport on libwebsockets (mbedTLS): HTTPS
 * `POST /dispatch/device` and the `/api/ws` websocket on one TLS port (8443, or
 * 443 with --legacy), PROTOCOL.md §3.1-3.2.
 *
 * A thin adapter: it moves bytes and frames, enforces the named limits below and
 * notices devices that drop the TLS handshake; what the bytes mean is the owner's
 * business, through struct wss_ops (sonota.c feeds them to session.c).
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
#define WSS_TLS_ABORT_NOTE_MAX 16  /* handshake aborts logged per peer before going quiet */

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
	/* A client closed its connection before sending any HTTP request, during or
	 * right after the TLS handshake: typically firmware that pins the real cloud's
	 * certificate (>= 1.6 / >= 2.6). lws' mbedTLS backend cannot tell the two
	 * moments apart; reported once per connection. */
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
