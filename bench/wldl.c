/* wldl.c: wssload --download, the image download of a stock device (PROTOCOL.md §4):
 * sequential 4 KB Range requests on a kept-alive plain TCP connection, each answer checked,
 * SHA-256 against the upgrade's digest, then the upgrade acked (0, or 404 as the device)
 * and the websocket dropped (reboot) or re-established (retry). Non-blocking, driven by
 * wssload.c's poll() loop (wl_dl_io, wl_after_io). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "http.h"
#include "wssload.h"

/* Close the image server connection (--download). */
void
wl_dl_close(struct wl_sess *s)
{
	if (s->hfd >= 0)
		close(s->hfd);
	s->hfd = -1;
	s->hinlen = 0;
	s->hreqlen = s->hreqoff = 0;
}

/* End the download: ack the upgrade with error (0: verified, 404: failed, as the device),
 * then drop the websocket once the ack is out (wl_after_io). */
int
wl_dl_end(struct wl_sess *s, int error, const char *fmt, ...)
{
	struct wl *wl = s->wl;
	va_list ap;

	wl_dl_close(s);
	s->dl = WL_DL_END;
	free(s->img);
	s->img = NULL;
	if (error) {
		va_start(ap, fmt);
		vsnprintf(s->dlerr, sizeof(s->dlerr), fmt, ap);
		va_end(ap);
		wl->acks404++;
		wl_log(s, "download %u of %s failed, acking %d: %s", s->attempts, s->upg.url, error,
		       s->dlerr);
	} else if (wl->verbose) {
		wl_log(s, "%s verified (%lld bytes, SHA-256 as in the upgrade), acking 0",
		       s->upg.url, s->total);
	}
	s->ack_error = error;
	s->closing = true;
	return wl_send_json(s, msg_ack(s->deviceid, s->srvkey, s->upg.seq, error));
}

/* Send the Range request for the next chunk (a fresh or kept-alive connection). */
static int
wl_dl_request(struct wl_sess *s)
{
	long long last = s->got + WL_RANGE_CHUNK - 1;
	int n;

	if (s->total > 0 && last > s->total - 1)
		last = s->total - 1;
	s->req_first = s->got;
	s->req_last = last;
	n = snprintf(s->hreq, sizeof(s->hreq),
		     "GET %s%cdeviceid=%s&ts=%u&sign=%s HTTP/1.1\r\n"
		     "Host: %s:%u\r\n"
		     "Range: bytes=%lld-%lld\r\n"
		     "\r\n",
		     s->upg.path, strchr(s->upg.path, '?') ? '&' : '?', s->deviceid,
		     (unsigned)(wl_now_ms() & 0x7fffffff), s->sign, s->upg.host, s->upg.port,
		     s->req_first, s->req_last);
	if (n < 0 || (size_t)n >= sizeof(s->hreq))
		return wl_dl_end(s, 404, "request for %s too long", s->upg.path);
	s->hreqlen = (size_t)n;
	s->hreqoff = 0;
	s->hhead = false;
	s->dl = WL_DL_WAIT;
	s->hdeadline = wl_now_ms() + WL_DL_IO_TIMEOUT_MS;
	return 0;
}

/* Open a connection to the image server: HOST (as the dispatch) and the URL's port. */
static int
wl_dl_connect(struct wl_sess *s)
{
	struct sockaddr_in a = s->wl->addr;
	int one = 1;

	wl_dl_close(s);
	s->hfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->hfd < 0)
		return wl_dl_end(s, 404, "socket: %s", strerror(errno));
	setsockopt(s->hfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	a.sin_port = htons(s->upg.port);
	s->hreused = false;
	s->dl = WL_DL_CONNECT;
	s->hdeadline = wl_now_ms() + WL_DL_IO_TIMEOUT_MS;
	if (connect(s->hfd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		return wl_dl_end(s, 404, "connect to port %u: %s", s->upg.port, strerror(errno));
	return 0;
}

/* The upgrade is in and the dialogue done: start a download of upg. */
int
wl_dl_start(struct wl_sess *s)
{
	struct wl *wl = s->wl;

	s->attempts++;
	if (!strncmp(s->upg.path, "/slowota/", 9) && !s->got_slow) {
		s->got_slow = true;
		wl->slow++;
	}
	if (wl->ack_error) {
		s->dl = WL_DL_END;
		s->ack_error = wl->ack_error;
		s->closing = true;
		snprintf(s->dlerr, sizeof(s->dlerr), "--ack-error %d", wl->ack_error);
		wl_log(s, "upgrade %u (%s) acked with %d (--ack-error)", s->attempts, s->upg.url,
		       wl->ack_error);
		wl->acks404 += wl->ack_error == 404;
		return wl_send_json(s, msg_ack(s->deviceid, s->srvkey, s->upg.seq, wl->ack_error));
	}
	free(s->img);
	s->img = NULL;
	s->total = -1;
	s->got = 0;
	if (!s->sign[0]) {
		uint8_t r[32];

		dev_random(r, sizeof(r));
		for (size_t i = 0; i < sizeof(r); i++)
			snprintf(s->sign + 2 * i, 3, "%02x", r[i]);
	}
	return wl_dl_connect(s);
}

/* Parse what the image server sent: heads, bodies, next requests, the final check. */
static int
wl_dl_parse(struct wl_sess *s)
{
	while (s->dl == WL_DL_WAIT) {
		if (!s->hhead) {
			struct http_resp r;
			char err[160];
			size_t i;

			for (i = 0; i + 3 < s->hinlen; i++)
				if (!memcmp(s->hin + i, "\r\n\r\n", 4))
					break;
			if (i + 3 >= s->hinlen) {
				if (s->hinlen >= HTTP_HEAD_MAX)
					return wl_dl_end(s, 404, "answer head over %d bytes",
							 HTTP_HEAD_MAX);
				return 0;
			}
			if (http_parse_response((const char *)s->hin, i + 4, &r, err,
						sizeof(err)) < 0)
				return wl_dl_end(s, 404, "malformed answer head: %s", err);
			if (r.status == 200)
				return wl_dl_end(s, 404, "200 to a Range request: the server ignored "
						 "Range (a Range download cannot use this URL)");
			if (r.status != 206)
				return wl_dl_end(s, 404, "Range %lld-%lld answered %d",
						 s->req_first, s->req_last, r.status);
			if (r.te_chunked || r.content_length < 0)
				return wl_dl_end(s, 404, "206 without Content-Length, or chunked");
			if (!r.has_range || r.range_first != s->req_first ||
			    (s->total > 0 && r.range_total != s->total) ||
			    r.range_last != (s->req_last < r.range_total - 1 ? s->req_last
									 : r.range_total - 1) ||
			    r.content_length != r.range_last - r.range_first + 1)
				return wl_dl_end(s, 404, "Content-Range/Length do not match bytes="
						 "%lld-%lld", s->req_first, s->req_last);
			if (s->total < 0) {
				if (r.range_total < 1 || r.range_total > WL_IMAGE_MAX)
					return wl_dl_end(s, 404, "image of %lld bytes (slot: %d)",
							 r.range_total, WL_IMAGE_MAX);
				s->total = r.range_total;
				s->img = malloc((size_t)s->total);
				if (!s->img)
					return wl_dl_end(s, 404, "out of memory");
			}
			s->hhead = true;
			s->hclose = r.conn_close;
			s->hbody_left = r.content_length;
			memmove(s->hin, s->hin + i + 4, s->hinlen - i - 4);
			s->hinlen -= i + 4;
		}
		if (s->hinlen) {
			size_t k = s->hinlen < (size_t)s->hbody_left ? s->hinlen
								      : (size_t)s->hbody_left;

			memcpy(s->img + s->got, s->hin, k);
			s->got += (long long)k;
			s->hbody_left -= (long long)k;
			memmove(s->hin, s->hin + k, s->hinlen - k);
			s->hinlen -= k;
		}
		if (s->hbody_left > 0)
			return 0;
		if (s->hinlen)
			return wl_dl_end(s, 404, "bytes after the answer to bytes=%lld-%lld",
					 s->req_first, s->req_last);
		if (s->got == s->total) {
			uint8_t sha[32];

			mbedtls_sha256_ret(s->img, (size_t)s->total, sha, 0);
			if (memcmp(sha, s->upg.digest, sizeof(sha)))
				return wl_dl_end(s, 404, "SHA-256 of the %lld bytes differs from the "
						 "upgrade's digest", s->total);
			if (s->img[0] != 0xea)
				return wl_dl_end(s, 404, "byte 0 is 0x%02x, not 0xEA", s->img[0]);
			return wl_dl_end(s, 0, "verified");
		}
		s->hreused = true;
		if (s->hclose) {
			if (wl_dl_connect(s) < 0)
				return -1;
			s->hreused = true; /* a close announced is not a failure of the server */
		} else if (wl_dl_request(s) < 0) {
			return -1;
		}
	}
	return 0;
}

/* I/O on the image server connection. */
void
wl_dl_io(struct wl_sess *s, short revents)
{
	if (s->dl == WL_DL_CONNECT) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (getsockopt(s->hfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			wl_dl_end(s, 404, "connect to port %u: %s", s->upg.port, strerror(soerr));
			return;
		}
		if (!(revents & POLLOUT))
			return;
		if (wl_dl_request(s) < 0)
			return;
	}
	if (s->dl != WL_DL_WAIT)
		return;
	while (s->hreqoff < s->hreqlen) {
		ssize_t n = send(s->hfd, s->hreq + s->hreqoff, s->hreqlen - s->hreqoff,
				 MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			wl_dl_end(s, 404, "send: %s", strerror(errno));
			return;
		}
		s->hreqoff += (size_t)n;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	for (;;) {
		ssize_t n = recv(s->hfd, s->hin + s->hinlen, sizeof(s->hin) - s->hinlen, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0 && !s->hhead && !s->hinlen && s->hreused) {
			/* a kept-alive connection the server closed: resend once on a new one */
			if (wl_dl_connect(s) == 0)
				s->hreused = false;
			return;
		}
		if (n <= 0) {
			wl_dl_end(s, 404, "the image server %s at %lld of %lld bytes",
				  n == 0 ? "closed the connection" : strerror(errno), s->got,
				  s->total);
			return;
		}
		s->hinlen += (size_t)n;
		s->hdeadline = wl_now_ms() + WL_DL_IO_TIMEOUT_MS;
		if (wl_dl_parse(s) < 0 || s->dl != WL_DL_WAIT)
			return;
		if (s->hinlen == sizeof(s->hin)) {
			wl_dl_end(s, 404, "%zu bytes received and nothing complete", s->hinlen);
			return;
		}
	}
}

/* After I/O: a session whose ack went out drops its websocket: done, or reconnect. */
void
wl_after_io(struct wl_sess *s, int64_t now)
{
	struct wl *wl = s->wl;

	if (!s->closing || s->fd < 0 || s->outoff < s->outlen || s->phase != WL_UP)
		return;
	if (!s->close_at)
		s->close_at = now + WL_ACK_LINGER_MS;
	if (now < s->close_at)
		return;
	s->closing = false;
	s->close_at = 0;
	/* the device reboots (ack 0) or drops the connection to retry: no close frame */
	wl_disconnect(s, true);
	wl->up--;
	if (s->ack_error == 0) {
		s->phase = WL_DONE;
		wl->done++;
		return;
	}
	wl->setting_up++;
	if (s->attempts >= wl->attempts_max) {
		s->phase = WL_RETRY;
		wl_fail(s, "gave up after %u failed downloads; last: %s", s->attempts, s->dlerr);
		return;
	}
	/* a new connection, a new dialogue; sequences must still grow (kept) */
	s->phase = WL_RETRY;
	s->retry_at = now + WL_RETRY_MS;
	s->step = WL_STEP_REGISTER;
	s->have_upgrade = false;
	s->srvkey[0] = '\0';
	s->msglen = 0;
	s->in_frag = false;
	s->next_ping = 0;
	s->ping_out = false;
	s->dl = WL_DL_NONE;
}
