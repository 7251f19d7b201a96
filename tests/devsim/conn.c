/* conn: plain and TLS client connections of the simulated device.
 *
 * TLS policy (PROTOCOL §7, the stock ESP8266 firmware): TLS 1.0 minimum, the model's
 * maximum (default TLS 1.1), only TLS_RSA_WITH_AES_128_CBC_SHA and
 * TLS_RSA_WITH_AES_256_CBC_SHA, no SNI (mbedtls_ssl_set_hostname is never called), no
 * session tickets, no encrypt-then-MAC or extended-master-secret extensions, no
 * certificate verification (firmware < 1.6). With pin_cert the handshake is aborted as
 * soon as the server Certificate has been received, as firmware >= 1.6 does (§7, §12-7).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "conn.h"
#include "devsim.h"

/* The only suites an ESP8266 axTLS-era stack offers (PROTOCOL §7). */
static const int conn_suites[] = {
	MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
	MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
	0,
};

int64_t
conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
conn_left_ms(struct devsim *d)
{
	int64_t left = d->deadline_ms - conn_now_ms();

	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

int
conn_wait_fds(struct devsim *d, struct pollfd *pfd, int n, int timeout_ms)
{
	int64_t end = timeout_ms < 0 ? INT64_MAX : conn_now_ms() + timeout_ms;

	/* poll() at least once, also for timeout_ms == 0 (a non-blocking check) */
	for (;;) {
		int64_t now = conn_now_ms();
		int64_t lim = end < d->deadline_ms ? end : d->deadline_ms;
		int r;

		if (now >= d->deadline_ms) {
			dev_fail(d, DEV_EXIT_TIMEOUT, "overall timeout of %d s exceeded while %s",
				 d->timeout_s, d->phase);
			return -ETIMEDOUT;
		}
		r = poll(pfd, (nfds_t)n, lim > now ? (int)(lim - now) : 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r > 0)
			return r;
		if (conn_now_ms() >= end)
			return 0;
	}
}

int
conn_sleep(struct devsim *d, int ms)
{
	int r = conn_wait_fds(d, NULL, 0, ms);

	return r < 0 ? r : 0;
}

void
conn_init(struct conn *c, struct devsim *d)
{
	memset(c, 0, offsetof(struct conn, buf));
	c->d = d;
	c->fd = -1;
	c->off = c->len = 0;
}

static int
wait_one(struct conn *c, short events, int64_t end)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int64_t left = end - conn_now_ms();
	int r;

	if (left <= 0)
		return -ETIMEDOUT;
	r = conn_wait_fds(c->d, &pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? r : 0;
}

int
conn_tcp_connect(struct conn *c, const char *host, uint16_t port, const char *bind_addr,
		 int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int64_t end = conn_now_ms() + timeout_ms;
	socklen_t elen = sizeof(int);
	char portstr[8];
	int fd = -1, r, soerr = 0, one = 1;

	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &ai);
	if (r) {
		r = -EHOSTUNREACH;
		goto fail;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* lwIP's small receive window: a server cannot push much more than the device has
	 * read (before connect, so the window scale is chosen accordingly). Linux doubles the
	 * value for its bookkeeping. */
	if (c->d->model.tcp_window > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->d->model.tcp_window,
			   sizeof(c->d->model.tcp_window));
	if (bind_addr) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1) {
			r = -EINVAL;
			goto fail;
		}
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			r = -errno;
			goto fail;
		}
	}
	c->fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto fail;
		}
		r = wait_one(c, POLLOUT, end);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
			soerr = errno;
		if (soerr) {
			r = -soerr;
			goto fail;
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	c->eof = false;
	c->off = c->len = 0;
	freeaddrinfo(ai);
	return 0;
fail:
	c->fd = -1;
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return r;
}

int
conn_bio_result(ssize_t n, bool sending)
{
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return sending ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET || (sending && errno == EPIPE))
		return MBEDTLS_ERR_NET_CONN_RESET;
	return sending ? MBEDTLS_ERR_NET_SEND_FAILED : MBEDTLS_ERR_NET_RECV_FAILED;
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	ssize_t n;

	/* after a pinning rejection the device just drops the connection: no alert */
	if (c->pin_rejected)
		return MBEDTLS_ERR_NET_CONN_RESET;
	n = send(c->fd, buf, len, MSG_NOSIGNAL);
	return conn_bio_result(n, true);
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn *c = ctx;

	return conn_bio_result(recv(c->fd, buf, len, 0), false);
}

/* pin_cert: the device knows the cloud's certificate and ours never matches. Flagging the
 * certificate as untrusted makes mbedTLS abort right after the Certificate message. */
static int
pin_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct conn *c = arg;

	dev_log(c->d, "pinned certificate check: server certificate (depth %d, %zu bytes DER) "
		"is not the cloud certificate, aborting the handshake", depth, crt->raw.len);
	*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	c->pin_rejected = true;
	return 0;
}

static const char *
tls_version_name(int minor)
{
	switch (minor) {
	case 1: return "TLSv1.0";
	case 2: return "TLSv1.1";
	case 3: return "TLSv1.2";
	}
	return "?";
}

int
conn_tls_connect(struct conn *c, const char *host, uint16_t port, const char *bind_addr,
		 int timeout_ms)
{
	struct devsim *d = c->d;
	int64_t end = conn_now_ms() + timeout_ms;
	char ebuf[128];
	int r;

	r = conn_tcp_connect(c, host, port, bind_addr, timeout_ms);
	if (r < 0)
		return r;
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	c->tls = true;
	c->pin_rejected = false;
	r = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
					MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (r) {
		r = -EINVAL;
		goto fail;
	}
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_1);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     d->model.tls_max_minor);
	mbedtls_ssl_conf_ciphersuites(&c->conf, conn_suites);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &d->drbg);
	mbedtls_ssl_conf_session_tickets(&c->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	mbedtls_ssl_conf_encrypt_then_mac(&c->conf, MBEDTLS_SSL_ETM_DISABLED);
	mbedtls_ssl_conf_extended_master_secret(&c->conf, MBEDTLS_SSL_EXTENDED_MS_DISABLED);
	if (d->model.pin_cert) {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_verify(&c->conf, pin_verify, c);
	} else {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	r = mbedtls_ssl_setup(&c->ssl, &c->conf);
	if (r) {
		r = -ENOMEM;
		goto fail;
	}
	/* no mbedtls_ssl_set_hostname(): the device sends no SNI (PROTOCOL §7) */
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);

	while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
			int w = wait_one(c, r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT,
					 end);

			if (w < 0) {
				dev_log(d, "TLS handshake with %s timed out", c->peer);
				r = w;
				goto fail;
			}
			continue;
		}
		mbedtls_strerror(r, ebuf, sizeof(ebuf));
		if (c->pin_rejected) {
			dev_log(d, "TLS to %s: dropping the connection after the server "
				"Certificate (pinned certificate, firmware %s)", c->peer,
				d->model.rom_version);
			r = -EACCES;
		} else {
			dev_log(d, "TLS handshake with %s failed: -0x%04x %s", c->peer,
				(unsigned)-r, ebuf);
			r = -EPROTO;
		}
		goto fail;
	}
	{
		const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
		size_t chain = 0, n = 0;

		for (; crt && crt->raw.len; crt = crt->next, n++)
			chain += crt->raw.len;
		dev_log(d, "TLS to %s: %s, %s (no SNI), server certificate chain: %zu cert(s), "
			"%zu bytes", c->peer, tls_version_name(c->ssl.minor_ver),
			mbedtls_ssl_get_ciphersuite(&c->ssl), n, chain);
	}
	if (c->ssl.minor_ver > d->model.tls_max_minor || c->ssl.minor_ver < 1) {
		/* mbedTLS enforces this itself; a second guard costs nothing */
		dev_log(d, "TLS to %s: server negotiated a version outside 1.0..%s", c->peer,
			tls_version_name(d->model.tls_max_minor));
		r = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	conn_close(c, false);
	return r;
}

int
conn_write_all(struct conn *c, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	int64_t end = conn_now_ms() + timeout_ms;
	int r;

	if (c->fd < 0)
		return -ENOTCONN;
	while (len) {
		ssize_t n;

		if (c->tls) {
			n = mbedtls_ssl_write(&c->ssl, p, len);
			if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ) {
				r = wait_one(c, n == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT,
					     end);
				if (r < 0)
					return r;
				continue;
			}
			if (n < 0)
				return -EPIPE;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					r = wait_one(c, POLLOUT, end);
					if (r < 0)
						return r;
					continue;
				}
				return -errno;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool
conn_pending(struct conn *c)
{
	if (conn_avail(c))
		return true;
	return c->tls && c->fd >= 0 && mbedtls_ssl_check_pending(&c->ssl);
}

int
conn_fill(struct conn *c, int timeout_ms)
{
	int64_t end = conn_now_ms() + timeout_ms;
	size_t room;
	int r;

	if (c->fd < 0)
		return -ENOTCONN;
	if (c->off && c->off == c->len)
		c->off = c->len = 0;
	if (c->off && c->len == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	room = sizeof(c->buf) - c->len;
	if (!room)
		return -ENOBUFS;
	if (c->eof)
		return 0;
	for (;;) {
		ssize_t n;

		if (c->tls) {
			n = mbedtls_ssl_read(&c->ssl, c->buf + c->len, room);
			if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
				r = wait_one(c, n == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT,
					     end);
				if (r < 0)
					return r;
				continue;
			}
			if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
			    n == MBEDTLS_ERR_SSL_CONN_EOF || n == MBEDTLS_ERR_NET_CONN_RESET) {
				c->eof = true;
				return 0;
			}
			if (n < 0)
				return -EPROTO;
		} else {
			n = recv(c->fd, c->buf + c->len, room, 0);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					r = wait_one(c, POLLIN, end);
					if (r < 0)
						return r;
					continue;
				}
				if (errno == ECONNRESET) {
					c->eof = true;
					return 0;
				}
				return -errno;
			}
			if (n == 0) {
				c->eof = true;
				return 0;
			}
		}
		c->len += (size_t)n;
		return (int)n;
	}
}

void
conn_consume(struct conn *c, size_t n)
{
	if (n > conn_avail(c))
		n = conn_avail(c);
	c->off += n;
	if (c->off == c->len)
		c->off = c->len = 0;
}

ssize_t
conn_read(struct conn *c, void *out, size_t cap, int timeout_ms)
{
	size_t n;
	int r;

	if (!conn_avail(c)) {
		r = conn_fill(c, timeout_ms);
		if (r <= 0)
			return r;
	}
	n = conn_avail(c) < cap ? conn_avail(c) : cap;
	memcpy(out, conn_data(c), n);
	conn_consume(c, n);
	return (ssize_t)n;
}

int
conn_read_head(struct conn *c, size_t max, int timeout_ms)
{
	int64_t end = conn_now_ms() + timeout_ms;

	for (;;) {
		const uint8_t *p = conn_data(c);
		size_t n = conn_avail(c), i;
		int64_t left;
		int r;

		for (i = 0; i + 3 < n && i + 4 <= max; i++)
			if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
			    p[i + 3] == '\n')
				return (int)(i + 4);
		if (n >= max)
			return -EBADMSG;
		left = end - conn_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = conn_fill(c, (int)left);
		if (r == 0)
			return conn_avail(c) ? -EBADMSG : 0;
		if (r == -ENOBUFS)
			return -EBADMSG;
		if (r < 0)
			return r;
	}
}

void
conn_close(struct conn *c, bool graceful)
{
	if (c->tls) {
		if (graceful && c->fd >= 0)
			mbedtls_ssl_close_notify(&c->ssl);
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
		c->tls = false;
	}
	/* Not graceful means no TLS close_notify. The TCP close stays a normal one (FIN, not
	 * RST): an RST could make the peer's kernel discard an ack we just sent. */
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->eof = false;
	c->off = c->len = 0;
}
