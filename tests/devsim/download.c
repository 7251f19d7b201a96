/* download: the stock firmware fetching the E2A image for its inactive slot.
 *
 * Range mode (1.5.5 / 2.0.x, PROTOCOL §4): sequential `Range: bytes=a-b` requests of
 * range_chunk bytes on a keep-alive connection (reconnecting when the server closes).
 * Every answer must be 206 with Content-Range exactly "bytes a-b/total" for what was
 * asked (the end clamped to total-1), Content-Length == b-a+1, no chunked encoding, a
 * constant total, and not one byte more than Content-Length.
 *
 * norange mode (old firmware, §3.6): one GET without Range; needs 200 + Content-Length
 * and a slow server - faster delivery makes the device give up (ack 404).
 *
 * Both: every request carries ?deviceid=&ts=<random u32>&sign=<64 random hex> (§4); the
 * image must start with 0xEA, fit the 0x7B000-byte slot and match the SHA-256 `digest`.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "conn.h"
#include "devsim.h"
#include "download.h"
#include "http.h"
#include "msg.h"

struct dl {
	struct devsim *d;
	const struct msg_upgrade *u;
	struct dl_side *side;
	struct conn c;			/* the HTTP connection to the image server */
	bool connected;
	int requests;
	int connections;
	uint8_t *img;			/* total bytes, allocated at the first response */
	long long total;		/* -1 until known */
};

static int
dl_bad(struct dl *dl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A server violation of the download protocol: DEV_EXIT_DOWNLOAD. */
static int
dl_bad(struct dl *dl, const char *fmt, ...)
{
	char what[DEV_REASON_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return dev_fail(dl->d, DEV_EXIT_DOWNLOAD, "%s (request %d, %s)", what, dl->requests,
			dl->u->path);
}

static void
dl_disconnect(struct dl *dl)
{
	conn_close(&dl->c, false);
	dl->connected = false;
}

/* Wait until the download connection has something to read, keeping the WebSocket
 * serviced. 1 ready, 0 op timeout, <0 failure (recorded). */
static int
dl_wait_readable(struct dl *dl, int timeout_ms)
{
	int64_t end = conn_now_ms() + timeout_ms;
	struct dl_side *s = dl->side;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = dl->c.fd, .events = POLLIN },
			{ .fd = s ? s->conn->fd : -1, .events = POLLIN },
		};
		int64_t left;
		int r;

		if (conn_avail(&dl->c))
			return 1;
		if (s && conn_pending(s->conn)) {
			r = s->service(s->arg);
			if (r < 0)
				return r;
		}
		left = end - conn_now_ms();
		if (left <= 0)
			return 0;
		r = conn_wait_fds(dl->d, pfd, s ? 2 : 1, left > 200 ? 200 : (int)left);
		if (r < 0)
			return r;
		if (s) {
			int rs = s->service(s->arg);	/* pings due, frames readable */

			if (rs < 0)
				return rs;
		}
		if (pfd[0].revents)
			return 1;
	}
}

/* >0 bytes added, 0 EOF, -ETIMEDOUT when nothing came within timeout_ms, <0 failure. */
static int
dl_fill(struct dl *dl, int timeout_ms)
{
	int r = dl_wait_readable(dl, timeout_ms);

	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return r;
	if (conn_avail(&dl->c))
		return (int)conn_avail(&dl->c);
	return conn_fill(&dl->c, 1000);
}

/* Head length, 0 on EOF before any byte, <0 failure/timeout. */
static int
dl_read_head(struct dl *dl)
{
	int64_t end = conn_now_ms() + DL_IO_TIMEOUT_MS;

	for (;;) {
		const uint8_t *p = conn_data(&dl->c);
		size_t n = conn_avail(&dl->c);
		int64_t left;
		int r;

		for (size_t i = 0; i + 3 < n; i++)
			if (!memcmp(p + i, "\r\n\r\n", 4))
				return (int)(i + 4);
		if (n >= HTTP_HEAD_MAX)
			return -EBADMSG;
		left = end - conn_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = dl_fill(dl, (int)left);
		if (r == 0)
			return conn_avail(&dl->c) ? -EBADMSG : 0;
		if (r < 0)
			return r;
	}
}

static int
dl_connect(struct dl *dl)
{
	int r;

	if (dl->connected)
		return 0;
	r = conn_tcp_connect(&dl->c, dl->u->host, dl->u->port, dl->d->bind_addr,
			     DL_IO_TIMEOUT_MS);
	if (r < 0) {
		if (dl->d->failed)
			return r;
		return dl_bad(dl, "cannot connect to the image server %s:%u: %s", dl->u->host,
			      dl->u->port, strerror(-r));
	}
	dl->connected = true;
	dl->connections++;
	return 0;
}

static int
dl_send_request(struct dl *dl, long long first, long long last)
{
	const struct msg_upgrade *u = dl->u;
	uint8_t rnd[32];
	uint32_t ts;
	char sign[65], hostport[160], range[64] = "", req[1024];
	int n;

	/* fresh ts and sign on every request, as in the Tornado logs of #24/#47/#56 */
	dev_random(&ts, sizeof(ts));
	dev_random(rnd, sizeof(rnd));
	for (int i = 0; i < 32; i++)
		snprintf(sign + 2 * i, 3, "%02x", rnd[i]);
	if (u->port == 80)
		snprintf(hostport, sizeof(hostport), "%s", u->host);
	else
		snprintf(hostport, sizeof(hostport), "%s:%u", u->host, u->port);
	if (first >= 0)
		snprintf(range, sizeof(range), "Range: bytes=%lld-%lld\r\n", first, last);
	n = snprintf(req, sizeof(req),
		     "GET %s?deviceid=%s&ts=%" PRIu32 "&sign=%s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "%s"
		     "\r\n",
		     u->path, dl->d->deviceid, ts, sign, hostport, range);
	if (n < 0 || (size_t)n >= sizeof(req))
		return dl_bad(dl, "request too long");
	dl->requests++;
	dev_dbg(dl->d, "GET %s %s", u->path, range[0] ? range : "(no Range)\r\n");
	return conn_write_all(&dl->c, req, (size_t)n, DL_IO_TIMEOUT_MS);
}

/* After a body: nothing more may be readable. Closes on EOF. 0 or failure. */
static int
dl_check_extra(struct dl *dl)
{
	int r;

	if (conn_avail(&dl->c))
		return dl_bad(dl, "%zu byte(s) beyond Content-Length", conn_avail(&dl->c));
	r = dl_wait_readable(dl, DL_EXTRA_CHECK_MS);
	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	r = conn_fill(&dl->c, 100);
	if (r > 0)
		return dl_bad(dl, "%d byte(s) beyond Content-Length", r);
	if (r == 0)
		dl_disconnect(dl);	/* server closed: fine, reconnect for the next request */
	return 0;
}

static int
dl_check_size(struct dl *dl, long long total)
{
	if (total <= 0)
		return dl_bad(dl, "empty image");
	if (total > FLASH_SLOT_MAX)
		return dl_bad(dl, "image of %lld bytes does not fit the 0x%x-byte OTA slot", total,
			      FLASH_SLOT_MAX);
	return 0;
}

/* One Range request [first, first+chunk-1] (end clamped once total is known). */
static int
dl_range_one(struct dl *dl, long long first, long long *ret_got)
{
	struct devsim *d = dl->d;
	long long want_last = first + d->model.range_chunk - 1;
	long long exp_last, got = 0;
	struct http_resp resp;
	char err[160];
	int attempt, hl = 0, r;

	if (dl->total >= 0 && want_last > dl->total - 1)
		want_last = dl->total - 1;
	for (attempt = 0; attempt < 2; attempt++) {
		bool reused = dl->connected;

		r = dl_connect(dl);
		if (r < 0)
			return r;
		r = dl_send_request(dl, first, want_last);
		if (r < 0 && d->failed)
			return r;
		if (r < 0) {
			if (reused) {
				dl_disconnect(dl);
				continue;	/* keep-alive race: the server closed meanwhile */
			}
			return dl_bad(dl, "sending the request failed: %s", strerror(-r));
		}
		hl = dl_read_head(dl);
		if (hl == 0 && reused) {
			dl_disconnect(dl);
			continue;
		}
		break;
	}
	if (hl == 0)
		return dl_bad(dl, "server closed the connection without a response");
	if (hl == -ETIMEDOUT && !d->failed)
		return dl_bad(dl, "no response head within %d ms", DL_IO_TIMEOUT_MS);
	if (hl == -EBADMSG)
		return dl_bad(dl, "response head malformed or longer than %d bytes", HTTP_HEAD_MAX);
	if (hl < 0)
		return d->failed ? hl : dl_bad(dl, "reading the response: %s", strerror(-hl));
	if (http_parse_response((const char *)conn_data(&dl->c), (size_t)hl, &resp, err,
				sizeof(err)) < 0)
		return dl_bad(dl, "bad response head: %s", err);
	conn_consume(&dl->c, (size_t)hl);
	if (resp.status == 200)
		return dl_bad(dl, "200 to a Range request (bytes=%lld-%lld): the server ignored "
			      "Range", first, want_last);
	if (resp.status != 206)
		return dl_bad(dl, "status %d to a Range request", resp.status);
	if (resp.te_chunked)
		return dl_bad(dl, "chunked Transfer-Encoding (the device needs Content-Length)");
	if (resp.content_length < 0)
		return dl_bad(dl, "206 without Content-Length");
	if (!resp.has_range)
		return dl_bad(dl, "206 without a valid Content-Range");
	if (dl->total >= 0 && resp.range_total != dl->total)
		return dl_bad(dl, "Content-Range total changed from %lld to %lld", dl->total,
			      resp.range_total);
	r = dl_check_size(dl, resp.range_total);
	if (r < 0)
		return r;
	exp_last = want_last < resp.range_total - 1 ? want_last : resp.range_total - 1;
	if (resp.range_first != first || resp.range_last != exp_last)
		return dl_bad(dl, "Content-Range bytes %lld-%lld/%lld, expected %lld-%lld/%lld",
			      resp.range_first, resp.range_last, resp.range_total, first,
			      exp_last, resp.range_total);
	if (resp.content_length != exp_last - first + 1)
		return dl_bad(dl, "Content-Length %lld does not match Content-Range %lld-%lld",
			      resp.content_length, first, exp_last);
	if (dl->total < 0) {
		dl->total = resp.range_total;
		dl->img = malloc((size_t)dl->total);
		if (!dl->img)
			return dev_fail(d, DEV_EXIT_DOWNLOAD, "out of memory");
		dev_log(d, "image %s: %lld bytes", dl->u->name, dl->total);
	}
	while (got < resp.content_length) {
		size_t n = conn_avail(&dl->c);

		if (n == 0) {
			r = dl_fill(dl, DL_IO_TIMEOUT_MS);
			if (r == 0)
				return dl_bad(dl, "server closed after %lld of %lld body bytes", got,
					      resp.content_length);
			if (r == -ETIMEDOUT && !d->failed)
				return dl_bad(dl, "body stalled for %d ms at %lld of %lld bytes",
					      DL_IO_TIMEOUT_MS, got, resp.content_length);
			if (r < 0)
				return d->failed ? r : dl_bad(dl, "read: %s", strerror(-r));
			continue;
		}
		if ((long long)n > resp.content_length - got)
			n = (size_t)(resp.content_length - got);
		memcpy(dl->img + first + got, conn_data(&dl->c), n);
		conn_consume(&dl->c, n);
		got += (long long)n;
	}
	r = dl_check_extra(dl);
	if (r < 0)
		return r;
	if (dl->connected && (resp.conn_close || resp.minor == 0))
		dl_disconnect(dl);
	*ret_got = got;
	return 0;
}

static bool
dl_drop_now(struct dl *dl, long long have)
{
	struct devsim *d = dl->d;

	if (d->drop_done || !d->model.drop_at || dl->total <= 0 ||
	    have * 100 < (long long)d->model.drop_at * dl->total)
		return false;
	d->drop_done = true;
	dev_log(d, "WiFi lost at %lld of %lld bytes (drop_at=%d%%)", have, dl->total,
		d->model.drop_at);
	dl_disconnect(dl);
	return true;
}

static int
dl_range(struct dl *dl)
{
	long long off = 0;
	int r;

	while (dl->total < 0 || off < dl->total) {
		long long got = 0;

		r = dl_range_one(dl, off, &got);
		if (r < 0)
			return r;
		off += got;
		if (dl_drop_now(dl, off))
			return DL_DROPPED;
	}
	return 0;
}

static int
dl_norange(struct dl *dl)
{
	struct devsim *d = dl->d;
	long long got = 0, early = 0;
	double tokens = DL_SLOW_BUCKET;
	int64_t t0, tlast;
	struct http_resp resp;
	char err[160];
	int hl, r;

	r = dl_connect(dl);
	if (r < 0)
		return r;
	r = dl_send_request(dl, -1, -1);
	if (r < 0)
		return d->failed ? r : dl_bad(dl, "sending the request failed: %s", strerror(-r));
	hl = dl_read_head(dl);
	if (hl == 0)
		return dl_bad(dl, "server closed the connection without a response");
	if (hl == -ETIMEDOUT && !d->failed)
		return dl_bad(dl, "no response head within %d ms", DL_IO_TIMEOUT_MS);
	if (hl == -EBADMSG)
		return dl_bad(dl, "response head malformed or longer than %d bytes", HTTP_HEAD_MAX);
	if (hl < 0)
		return d->failed ? hl : dl_bad(dl, "reading the response: %s", strerror(-hl));
	if (http_parse_response((const char *)conn_data(&dl->c), (size_t)hl, &resp, err,
				sizeof(err)) < 0)
		return dl_bad(dl, "bad response head: %s", err);
	conn_consume(&dl->c, (size_t)hl);
	t0 = tlast = conn_now_ms();
	if (resp.status != 200)
		return dl_bad(dl, "status %d to a plain GET (200 expected)", resp.status);
	if (resp.te_chunked)
		return dl_bad(dl, "chunked Transfer-Encoding (the device needs Content-Length)");
	if (resp.content_length < 0)
		return dl_bad(dl, "200 without Content-Length");
	r = dl_check_size(dl, resp.content_length);
	if (r < 0)
		return r;
	dl->total = resp.content_length;
	dl->img = malloc((size_t)dl->total);
	if (!dl->img)
		return dev_fail(d, DEV_EXIT_DOWNLOAD, "out of memory");
	dev_log(d, "image %s: %lld bytes, one request without Range%s", dl->u->name, dl->total,
		resp.te_present ? " (empty Transfer-Encoding header tolerated)" : "");
	while (got < dl->total) {
		size_t n = conn_avail(&dl->c);
		int64_t now;

		if (n == 0) {
			r = dl_fill(dl, DL_IO_TIMEOUT_MS);
			if (r == 0)
				return dl_bad(dl, "server closed after %lld of %lld body bytes", got,
					      dl->total);
			if (r == -ETIMEDOUT && !d->failed)
				return dl_bad(dl, "body stalled for %d ms at %lld of %lld bytes",
					      DL_IO_TIMEOUT_MS, got, dl->total);
			if (r < 0)
				return d->failed ? r : dl_bad(dl, "read: %s", strerror(-r));
			continue;
		}
		if ((long long)n > dl->total - got)
			n = (size_t)(dl->total - got);
		now = conn_now_ms();
		if (now - t0 < DL_SLOW_FIRST_MS) {
			early += (long long)n;
			if (early > DL_SLOW_FIRST_MAX) {
				dev_log(d, "%lld body bytes within %d ms of the response: too fast for "
					"firmware %s, giving up", early, DL_SLOW_FIRST_MS,
					d->model.rom_version);
				dl_disconnect(dl);
				return DL_TOO_FAST;
			}
		} else {
			if (tlast < t0 + DL_SLOW_FIRST_MS)
				tlast = t0 + DL_SLOW_FIRST_MS;
			tokens += (double)(now - tlast) * DL_SLOW_RATE_BYTES / DL_SLOW_RATE_MS;
			if (tokens > DL_SLOW_BUCKET)
				tokens = DL_SLOW_BUCKET;
			tlast = now;
			tokens -= (double)n;
			if (tokens < 0) {
				dev_log(d, "data at more than %d bytes per %d ms after %lld bytes: too "
					"fast for firmware %s, giving up", DL_SLOW_RATE_BYTES,
					DL_SLOW_RATE_MS, got, d->model.rom_version);
				dl_disconnect(dl);
				return DL_TOO_FAST;
			}
		}
		memcpy(dl->img + got, conn_data(&dl->c), n);
		conn_consume(&dl->c, n);
		got += (long long)n;
		if (dl_drop_now(dl, got))
			return DL_DROPPED;
	}
	r = dl_check_extra(dl);
	if (r < 0)
		return r;
	dev_log(d, "slow download took %.1f s", (double)(conn_now_ms() - t0) / 1000.0);
	return 0;
}

int
dl_stock(struct devsim *d, const struct msg_upgrade *u, struct dl_side *side,
	 uint8_t **ret_img, size_t *ret_len)
{
	struct dl *dl;
	uint8_t sha[32];
	int64_t t0 = conn_now_ms();
	int r;

	dl = calloc(1, sizeof(*dl));
	if (!dl)
		return dev_fail(d, DEV_EXIT_DOWNLOAD, "out of memory");
	dl->d = d;
	dl->u = u;
	dl->side = side;
	dl->total = -1;
	conn_init(&dl->c, d);
	d->phase = "downloading the stock OTA image";
	if (d->model.download == MODEL_DL_RANGE)
		r = dl_range(dl);
	else
		r = dl_norange(dl);
	dl_disconnect(dl);
	if (r != 0)
		goto out;
	mbedtls_sha256_ret(dl->img, (size_t)dl->total, sha, 0);
	if (memcmp(sha, u->digest, sizeof(sha))) {
		char hex[65];

		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", sha[i]);
		r = dev_fail(d, DEV_EXIT_DOWNLOAD, "SHA-256 of the downloaded %s is %s, not the "
			     "digest of the upgrade command", u->name, hex);
		goto out;
	}
	if (dl->img[0] != 0xEA) {
		r = dev_fail(d, DEV_EXIT_DOWNLOAD, "%s starts with 0x%02x, not 0xEA: the Espressif "
			     "bootloader could not boot it", u->name, dl->img[0]);
		goto out;
	}
	dev_log(d, "download of %s complete: %lld bytes, %d requests, %d connection(s), "
		"%.1f s, SHA-256 ok", u->name, dl->total, dl->requests, dl->connections,
		(double)(conn_now_ms() - t0) / 1000.0);
	*ret_img = dl->img;
	*ret_len = (size_t)dl->total;
	dl->img = NULL;
out:
	free(dl->img);
	free(dl);
	return r;
}
