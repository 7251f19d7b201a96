/* diyhttp: the bytes of one /zeroconf exchange, pure (DIY-PROTOCOL.md §3.1, §3.3).
 *
 * diyhttp_request() writes the whole request into one buffer, so the adapter sends it in one
 * write (HTTP/1.1, Host, Content-Type, Content-Length: what every working client sends).
 * diyhttp_classify() turns what came back on that connection (bytes, close, reset, timeout)
 * into the diyflow_result that diyflow_next() takes, using httpresp.h for the head. The
 * adapter calls it on every read and on close/reset/timeout; -EAGAIN means "keep reading".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diy.h"
#include "diyflow.h"

#define DIYHTTP_REQ_MAX 1024 /* head + body of our requests: ota_flash is < 400 bytes */

/* "POST /zeroconf/<cmd> HTTP/1.1\r\nHost: <ip>:<port>\r\nContent-Type: application/json\r\n
 * Content-Length: <n>\r\n\r\n<body>" for step (info, ota_unlock, ota_flash). Returns the length,
 * or -EINVAL (bad step, ip not a dotted quad, port 0), -E2BIG (does not fit out). */
int diyhttp_request(enum diyflow_step step, const char *ipv4, uint16_t port, const char *body,
		    char *out, size_t outlen);

/* How the connection ended so far. */
struct diyhttp_seen {
	const void *buf;  /* everything read on the connection */
	size_t len;
	bool eof;         /* the device closed it */
	bool reset;       /* ECONNRESET / EPIPE / a refused connect */
	bool timed_out;   /* the step's limit passed */
};

/* Classify the exchange for step (sent_deviceid as sent). Returns 0 with *ret filled (and
 * *ret_info for a valid info reply; may be NULL otherwise), or -EAGAIN while the reply is
 * incomplete and nothing ended the connection. Outcomes: no byte and eof or reset = RESET
 * ("empty reply"); reset after some bytes = RESET; timed out before a complete reply =
 * TIMEOUT; a malformed or unfinished head at eof, a status other than 200, a body that is not
 * the step's JSON = BAD_REPLY; else REPLY with the JSON "error". */
int diyhttp_classify(enum diyflow_step step, bool sent_deviceid, const struct diyhttp_seen *seen,
		     struct diyflow_result *ret, struct diy_info *ret_info);
