/* conn: TCP connections (plain or mbedTLS client) with poll() timeouts, a read buffer,
 * and the overall --timeout deadline of the device.
 *
 * Every wait in the simulator goes through conn_wait_fds(); when the overall deadline is
 * reached it records DEV_EXIT_TIMEOUT (first failure wins) and returns -ETIMEDOUT.
 */
#ifndef DEVSIM_CONN_H
#define DEVSIM_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include <mbedtls/ssl.h>

struct devsim;

#define CONN_BUF 16384			/* read buffer: one TLS record / a few HTTP heads */

struct conn {
	struct devsim *d;
	int fd;				/* -1 when closed */
	bool tls;			/* mbedTLS on top of fd */
	bool eof;			/* peer closed (FIN or close_notify) */
	bool pin_rejected;		/* pin_cert: certificate seen, nothing more may be sent */
	mbedtls_ssl_context ssl;	/* valid when tls */
	mbedtls_ssl_config conf;	/* valid when tls */
	uint8_t buf[CONN_BUF];		/* received, not yet consumed bytes: buf[off..len) */
	size_t off, len;
	char peer[64];			/* "ip:port", for logs */
};

/* Monotonic milliseconds. */
int64_t conn_now_ms(void);
/* Milliseconds left before the overall deadline (>= 0). */
int conn_left_ms(struct devsim *d);
/* poll() with an op timeout, capped by the deadline: >0 ready, 0 op timeout,
 * -ETIMEDOUT overall deadline (recorded as DEV_EXIT_TIMEOUT). */
int conn_wait_fds(struct devsim *d, struct pollfd *pfd, int n, int timeout_ms);
/* Sleep ms, bounded by the deadline: 0, or -ETIMEDOUT. */
int conn_sleep(struct devsim *d, int ms);

/* A send() (sending) or recv() result, errno set when < 0, in mbedTLS' BIO
 * convention: the count, WANT_WRITE/WANT_READ to retry, NET_CONN_RESET, or
 * NET_SEND_FAILED/NET_RECV_FAILED. For BIO callbacks on a plain socket. */
int conn_bio_result(ssize_t n, bool sending);

/* Zero a conn (fd = -1). */
void conn_init(struct conn *c, struct devsim *d);
/* TCP connect (optionally from bind_addr) within timeout_ms: 0 or -errno. */
int conn_tcp_connect(struct conn *c, const char *host, uint16_t port, const char *bind_addr,
		     int timeout_ms);
/* TCP connect + TLS handshake with the model's policy (PROTOCOL §7). 0, -errno, or
 * -EACCES when the pinned certificate was rejected. Logs version and suite. */
int conn_tls_connect(struct conn *c, const char *host, uint16_t port, const char *bind_addr,
		     int timeout_ms);
/* Write everything within timeout_ms: 0 or -errno. */
int conn_write_all(struct conn *c, const void *buf, size_t len, int timeout_ms);
/* true when bytes are buffered (ours or mbedTLS') and can be read without waiting. */
bool conn_pending(struct conn *c);
/* Read more bytes into the buffer: >0 count, 0 EOF, -ETIMEDOUT op/overall timeout,
 * -ENOBUFS buffer full, other -errno. */
int conn_fill(struct conn *c, int timeout_ms);
/* Buffered bytes. */
static inline size_t
conn_avail(const struct conn *c)
{
	return c->len - c->off;
}
/* Pointer to buffered bytes. */
static inline const uint8_t *
conn_data(const struct conn *c)
{
	return c->buf + c->off;
}
/* Consume n buffered bytes. */
void conn_consume(struct conn *c, size_t n);
/* Read up to cap bytes (buffered first, else one fill): >0, 0 EOF, -errno. */
ssize_t conn_read(struct conn *c, void *out, size_t cap, int timeout_ms);
/* Read until "\r\n\r\n" (at most max bytes); returns the head length (incl. CRLFCRLF)
 * still in the buffer at conn_data(), 0 on EOF before any byte, -EBADMSG on a too long
 * or truncated head, -ETIMEDOUT. */
int conn_read_head(struct conn *c, size_t max, int timeout_ms);
/* Close; graceful sends a TLS close_notify first, otherwise the connection just ends (the
 * device rebooted or lost WiFi). Idempotent. */
void conn_close(struct conn *c, bool graceful);

#endif
