/* wssabort: decides, as lws closes a TLS connection that sent no request, whether
 * its peer aborted the handshake (wss.h, on_tls_abort; the pure rule is
 * wss_is_tls_abort in wssrule.h). Runs on the lws service thread.
 *
 * It reads the socket's TCP_INFO while the socket is still open: the caller hands
 * over a descriptor of it (a dup kept since the accept, or lws' own before its
 * close()). When lws failed the handshake while the peer was still connected (a
 * fatal alert overtakes the peer's FIN), the socket is held, with no FIN sent,
 * for WSS_ABORT_GRACE_MS and judged again.
 */
#pragma once

#include <stdbool.h>

struct lws_context;

/* Called with the peer's address for each abort found. */
typedef void (*wss_abort_cb)(void *arg, const char *peer);

struct wss_abort_pending;

struct wss_abort {
	struct lws_context *ctx;
	wss_abort_cb cb;
	void *arg;
	struct wss_abort_pending *pending; /* sockets held for a second look */
};

/* Judge the connection of socket fd (taken over: closed now or after the grace).
 * request_seen: it sent an HTTP request; we_closed: wss closed it on purpose. */
void wss_abort_judge(struct wss_abort *j, int fd, bool request_seen, bool we_closed,
                     const char *peer);

/* Close the held sockets without a verdict (the vhost is going). */
void wss_abort_fini(struct wss_abort *j);
