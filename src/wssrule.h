/* wssrule: the pure decisions of the HTTPS/WSS listener (wss.c), apart from lws so
 * that unit tests can drive them with crafted inputs. No I/O, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tcpi_state values of Linux TCP_INFO (the kernel's tcp_states.h, unchanged since
 * Linux 2.2; uapi headers do not export them next to the tcp_info they fill). */
enum wss_tcp_state {
	WSS_TCP_ESTABLISHED = 1,
	WSS_TCP_FIN_WAIT1 = 4,
	WSS_TCP_TIME_WAIT = 6,
	WSS_TCP_CLOSE = 7,      /* reset by the peer (our socket is still open) */
	WSS_TCP_CLOSE_WAIT = 8, /* the peer sent FIN, we have not closed yet */
	WSS_TCP_LAST_ACK = 9,   /* the peer closed first, then we did */
};

/* What wss knows of a TLS connection when lws closes it, read from TCP_INFO while
 * the socket is still open (before lws' close()). */
struct wss_close_facts {
	bool request_seen;    /* an HTTP request or websocket upgrade was parsed on it */
	bool we_closed;       /* wss decided the close (WSS_HANDSHAKE_S) */
	bool tcp_known;       /* the fields below were read (TCP_INFO worked) */
	uint8_t tcp_state;    /* tcpi_state */
	uint64_t bytes_acked; /* tcpi_bytes_acked: bytes of ours the peer acknowledged */
};

/* The pinned-firmware rule (wss.h, on_tls_abort): true only when the PEER closed
 * (FIN: CLOSE_WAIT/LAST_ACK) or reset (CLOSE) the connection before we did, after
 * our answer to its ClientHello reached it (bytes_acked > 0: the server's first
 * flight, certificate included; we answer only a complete ClientHello), and before
 * any HTTP request. Anything else is false: unknown TCP facts, a connection we
 * closed (handshake limit, lws' own timeouts, load), a peer that left before we
 * answered (port scans, a client that never finished its ClientHello). */
bool wss_is_tls_abort(const struct wss_close_facts *f);

/* Not an abort yet, but it may become one: lws ended the handshake (before any
 * request, after our answer reached the peer) while the peer was still connected,
 * and not at our limit. A fatal alert from the peer does that; the peer's FIN
 * follows within a round trip, so wss judges again WSS_ABORT_GRACE_MS later. */
bool wss_tls_abort_undecided(const struct wss_close_facts *f);

/* RFC 6455 §4.1/§4.2.1: Sec-WebSocket-Key is the base64 of 16 bytes, i.e. exactly 22
 * base64 characters then "==", with the unused low 4 bits of the last character
 * zero (canonical encoding). key is NUL-terminated; NULL is invalid. */
bool wss_key_valid(const char *key);

/* RFC 6455 §4.2.1: Sec-WebSocket-Version must be exactly "13". */
bool wss_version_valid(const char *version);
