/* wssint: the HTTPS/WSS listener's private parts, shared by its two files (not a
 * public interface: include wss.h for that).
 *   wss.c      the lws protocol callback, accept bookkeeping, vhost creation
 *   wssconn.c  one connection: peer addresses, the dispatch request and reply, the
 *              upgrade filter, websocket receive and the send queue */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "log.h"
#include "wss.h"
#include "wssabort.h"

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

/* wssconn.c */

/* "::ffff:a.b.c.d" -> "a.b.c.d", in place (the listener is dual-stack). */
void wss_peer_normalise(char *peer);
/* The peer address of wsi, normalised, into out ("" if unknown). */
void wss_peer_get(struct lws *wsi, char *out, size_t len);
/* The slot recording fd (-1: a free slot), or NULL. */
struct wss_peer_slot *wss_peer_find(struct wss_vhd *vhd, int fd);
/* Take the recorded address of fd (and free its slot); "" if none. */
void wss_peer_take(struct wss_vhd *vhd, int fd, char *out, size_t len);
/* Free c's queued frames. */
void wss_frames_free(struct wss_conn *c);
/* POST /dispatch/device headers arrived: 0 to read the body, -1 after a refusal. */
int wss_dispatch_start(struct lws *wsi, struct wss_conn *c);
/* The dispatch body is complete: answer it (ops->on_dispatch, 413 or 500). */
void wss_dispatch_done(struct lws *wsi, struct wss_conn *c);
/* The websocket upgrade request (RFC 6455 §4.2.1): 0 to accept, -1 after a refusal. */
int wss_upgrade_filter(struct lws *wsi, struct wss_vhd *vhd);
/* One received websocket fragment: reassembles and calls ops->on_text; -1 closes. */
int wss_receive(struct lws *wsi, struct wss_conn *c, const void *in, size_t len);
