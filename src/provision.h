/* provision: stage 1, the HTTP client that hands the home WiFi and our address to
 * a device in pairing mode (PROTOCOL.md §2; docs/provisioning.md).
 *
 * GET /device (bounded retries with backoff) then POST /ap to the device's
 * pairing server, 10.10.7.1:80 by default, over lws RAW client connections on the
 * service loop: each request (request line, headers and body) leaves in one
 * write, and the replies are parsed by httpresp. Timers are lws_sul; nothing
 * sleeps. The WiFi password exists only in the POST request buffer, which is
 * zeroed as soon as it was written; it is never logged.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "log.h"

#define PROV_DEFAULT_DEVICE_ADDR "10.10.7.1" /* the ITEAD pairing AP's server (§1.2) */
#define PROV_DEFAULT_DEVICE_PORT 80

/* Defaults for the prov_opts knobs left 0. */
#define PROV_GET_ATTEMPTS 24       /* about 80 s of trying with the backoff below:
				    * the host may get its 10.10.7.x lease before the
				    * device's server listens; the stage machine cancels
				    * sooner when the AP goes away */
#define PROV_BACKOFF_FIRST_MS 500  /* first pause between GET attempts ... */
#define PROV_BACKOFF_MAX_MS 4000   /* ... doubled up to this (SonOTA: none at all) */
#define PROV_GET_TIMEOUT_MS 3000   /* connect + whole reply of one GET (SonOTA: 2 s
				    * socket timeout) */
#define PROV_POST_TIMEOUT_MS 5000  /* connect + whole reply of the POST: "no reply
				    * within a few seconds" (§2.4) */
#define PROV_POST_CONNECT_ATTEMPTS 3 /* POST attempts whose connection failed before
				      * anything was written (safe to repeat) */

#define PROV_REQUEST_MAX 1400 /* one TCP segment: the device's MSS is 1460 (§2.4),
			       * minus 12 bytes of TCP timestamps, with margin */
#define PROV_REPLY_MAX 4096   /* head + body of a reply; the device sends ~150 B */
#define PROV_BODY_MAX 1024    /* body of a reply */
#define PROV_WHY_MAX 96       /* text of the last attempt's failure, for the log */

enum prov_result {
	PROV_OK,                 /* POST /ap answered {"error":0} */
	PROV_POSTED_NO_REPLY,    /* POST /ap was written but no usable reply came (the
				  * device closed, went silent, or answered garbage):
				  * success only if the AP then goes away */
	PROV_DEVICE_UNREACHABLE, /* every GET attempt failed, or the POST could not be
				  * sent: the password never left */
	PROV_REJECTED,           /* the device answered the POST with an error: an
				  * "error" other than 0, or an HTTP error status */
	PROV_BAD_REPLY,          /* GET /device got a reply that is not the device's
				  * (HTTP error, malformed HTTP or JSON): nothing posted */
	PROV_CANCELLED,          /* the lws vhost was destroyed while running */
	_PROV_RESULT_MAX,
};

struct prov_opts {
	const char *device_addr;    /* IPv4 literal; NULL: PROV_DEFAULT_DEVICE_ADDR */
	uint16_t device_port;       /* 0: PROV_DEFAULT_DEVICE_PORT */
	const char *ssid;           /* home WiFi, 1..PROTO_SSID_MAX chars */
	const char *password;       /* its password, <= PROTO_PASSWORD_MAX chars; secret */
	const char *server_name;    /* our address as the device must reach it (stage 2) */
	uint16_t server_port;       /* our HTTPS/WSS port (8443, or 443 legacy) */
	unsigned max_get_attempts;  /* 0: PROV_GET_ATTEMPTS */
	unsigned get_timeout_ms;    /* 0: PROV_GET_TIMEOUT_MS */
	unsigned post_timeout_ms;   /* 0: PROV_POST_TIMEOUT_MS */
	unsigned backoff_first_ms;  /* 0: PROV_BACKOFF_FIRST_MS */
	unsigned backoff_max_ms;    /* 0: PROV_BACKOFF_MAX_MS */
};

/* The end of a run, called once on the lws service thread from a timer (never
 * from inside prov_start or prov_cancel). deviceid is what GET /device
 * returned, NULL if it never answered; valid during the call. */
typedef void (*prov_done_cb)(void *arg, enum prov_result r, const char *deviceid);

struct prov;

/* The lws protocol of the RAW client connections ("sonota-prov"). Add it to the
 * protocol list of the vhost given to prov_start; it needs no per-session data.
 * prov_lws_callback is the same callback, for static protocol tables. */
extern const struct lws_protocols prov_protocol;
int prov_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

/* Start provisioning. cx must be vh's context (lws 4.1 cannot tell it from vh).
 * opts and its strings are copied (the password only into the POST request,
 * built now): the caller may free them on return. The caller should have
 * registered the password with log_add_secret. Runs on the lws service thread.
 * Returns 0 and *ret, or -errno: -EINVAL for a bad option (address not an IPv4
 * literal, ssid/password/server name out of proto's bounds), -EMSGSIZE when the
 * POST would not fit PROV_REQUEST_MAX, -ENOPROTOOPT when prov_protocol is not on
 * vh, -ENOMEM. */
int prov_start(struct lws_context *cx, struct lws_vhost *vh, const struct prov_opts *opts,
	       struct log *log, prov_done_cb cb, void *arg, struct prov **ret);

/* Stop p if it still runs (no callback follows), zero the request buffers and
 * free it. Call it once for every successful prov_start, also after the done
 * callback (or from inside it). Call it before lws_context_destroy(); if the
 * context went first, the run already ended with PROV_CANCELLED and this only
 * frees. NULL-safe. */
void prov_cancel(struct prov *p);

/* Has the running attempt written its POST /ap (the settings left, reply or not)?
 * false for NULL. The route uses it when the AP goes away before the result. */
bool prov_post_sent(const struct prov *p);

/* "ok", "posted-no-reply", "device-unreachable", "rejected", "bad-reply",
 * "cancelled" */
const char *prov_result_name(enum prov_result r);
