/* provreq: the pure parts of the provisioning client (src/provision.c): the two
 * requests as bytes, the POST /ap reply's verdict and the retry backoff.
 * PROTOCOL.md §2.3-2.4, docs/provisioning.md. No I/O, no logging.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "GET /device" for the device at addr:port into buf (at most max bytes with the
 * NUL). Returns the request's length, or -EMSGSIZE when it does not fit. */
int provreq_get(char *buf, size_t max, const char *addr, uint16_t port);

/* "POST /ap" with its JSON body (proto_build_ap: ssid, password, our server name and
 * port) in one buffer, so that it leaves in one write (§2.4). The body's temporary
 * copy is zeroed; buf holds the password: the caller zeroes it after use. Returns the
 * length, -EINVAL when a field is out of proto's bounds, -EMSGSIZE when the request
 * does not fit max - 1 bytes. */
int provreq_post(char *buf, size_t max, const char *addr, uint16_t port, const char *ssid,
		 const char *password, const char *server, uint16_t server_port);

/* {"error":N} of the POST /ap reply, nothing but white space after it: 0 and
 * *ret_error, or -EINVAL. */
int provreq_parse_ap_reply(const char *body, size_t len, int *ret_error);

/* The pause after the n-th failure: first, doubled per failure, capped at max. */
unsigned provreq_backoff_ms(unsigned first, unsigned max, unsigned failures);
