/* diyclient: one /zeroconf exchange at a time with a DIY-mode device (port 8081,
 * DIY-PROTOCOL.md §3.1, §3.3), over an lws RAW client on the caller's loop.
 *
 * HTTP/1.1, one connection per request, the request in one write (diyhttp_request), every
 * read, the close, a refused/failed connect and the deadline handed to diyhttp_classify
 * until it stops answering -EAGAIN. At least DIY_REQ_GAP_MS (plus a margin) pass between
 * the end of one exchange and the connect of the next: the client delays a request itself. The callback
 * runs once per accepted send, from an lws_sul on a clean stack (never inside
 * diyclient_send), where diyclient_send (the next request) and diyclient_free are allowed.
 *
 * A close cannot be told from a reset through lws' RAW callbacks: a connect that fails is
 * "reset"; a close is "eof" (no byte: RESET, "empty reply"; some bytes: BAD_REPLY unless
 * the reply was complete). Nothing is logged but one debug line per exchange; request
 * bodies carry no secret.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "diy.h"
#include "diyflow.h"
#include "log.h"

#define DIYCLIENT_RX_MAX (DIY_REPLY_MAX + 1024) /* a reply's body + a head of headers */

struct diyclient;

struct diyclient_done {
	struct diyflow_result res; /* how it ended: REPLY + code, RESET, TIMEOUT, BAD_REPLY */
	bool has_info;             /* step INFO answered with a valid info */
	struct diy_info info;
};

typedef void (*diyclient_cb)(void *arg, const struct diyclient_done *d);

/* The lws protocol of the client's connections ("sonota-diy"): add it to the protocol list
 * of the vhost given to diyclient_new (it needs no per-session data). */
extern const struct lws_protocols diyclient_protocol;

/* A client on vh (whose context is cx: lws 4.1 cannot tell it from vh). 0 and *ret, or
 * -EINVAL, -ENOPROTOOPT (diyclient_protocol is not on vh), -ENOMEM. */
int diyclient_new(struct lws_context *cx, struct lws_vhost *vh, struct log *log,
		  struct diyclient **ret);

/* Start one exchange: POST /zeroconf/<step> to ipv4:port (an IPv4 literal). deviceid NULL
 * = omit the key ("" is refused: -EINVAL). body: the ready JSON body (diy_build_*(), made
 * with the same deviceid), or NULL for INFO/UNLOCK, whose body the client builds from
 * deviceid; FLASH needs a body. timeout_ms (> 0) bounds the exchange from its connect.
 * Returns 0 (cb is called exactly once later, unless diyclient_free comes first), -EBUSY
 * while an exchange runs, -EINVAL, -E2BIG (request too long), -ENOMEM. */
int diyclient_send(struct diyclient *c, const char *ipv4, uint16_t port, enum diyflow_step step,
		   const char *deviceid, const char *body, unsigned timeout_ms, diyclient_cb cb,
		   void *arg);

/* Is an exchange running (or waiting for its gap)? */
bool diyclient_busy(const struct diyclient *c);

/* Stop a running exchange (its cb is not called), close its connection, free. Call it before
 * lws_context_destroy. NULL-safe. */
void diyclient_free(struct diyclient *c);
