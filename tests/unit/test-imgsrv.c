/* Unit tests for imgsrv.c: a real server on 127.0.0.1 (port 0), driven by a tiny
 * HTTP client over plain sockets, with synthetic in-memory files. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ackwatch.h"
#include "evq.h"
#include "imgsrv.h"
#include "log.h"
#include "util.h"

#define BIG_NAME "image_user1-0x01000.bin"
#define BIG_SIZE 300001                 /* not a multiple of 4096: a short last range */
#define SLOW_NAME "image_user2-0x81000.bin"
#define SLOW_SIZE (10 + 4 * 1400)       /* 10 bytes, then 4 paced chunks: ~1.8 s */
#define HUGE_NAME "image_arduino.bin"
#define HUGE_SIZE (16u << 20)           /* more than any socket buffers hold */
#define RESP_HEAD_MAX 8192
#define IO_TIMEOUT_S 5

static uint8_t *big, *slow, *huge;
static struct evq q;

/* ---- a tiny HTTP client ---------------------------------------------------- */

struct resp {
	int status;
	char head[RESP_HEAD_MAX]; /* status line + headers, NUL-terminated */
	uint8_t *body;            /* malloc'd */
	size_t body_len;
	long clen;                /* Content-Length, -1 if absent */
	bool eof;                 /* the server closed the connection after the body */
};

static int
tcp_connect(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Value of header name in r->head, copied into buf; NULL if absent. */
static const char *
header(const struct resp *r, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return buf;
		}
	}
	return NULL;
}

static bool
has_header(const struct resp *r, const char *name)
{
	char b[256];

	return header(r, name, b, sizeof(b)) != NULL;
}

/* Read one response. head_only: a HEAD answer (no body). want_eof: then wait for
 * the server to close. Returns 0 or -1. */
static int
read_resp(int fd, struct resp *r, bool head_only, bool want_eof)
{
	char buf[RESP_HEAD_MAX];
	size_t have = 0;
	char *end = NULL;
	char v[64];

	memset(r, 0, sizeof(*r));
	r->clen = -1;
	while (!end) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end && have == sizeof(buf) - 1)
			return -1;
	}
	size_t hl = (size_t)(end - buf) + 4;
	memcpy(r->head, buf, hl - 2);
	r->head[hl - 2] = 0;
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	if (header(r, "Content-Length", v, sizeof(v)))
		r->clen = strtol(v, NULL, 10);
	size_t want = head_only || r->clen < 0 ? 0 : (size_t)r->clen;
	r->body = malloc(want + 1);
	if (!r->body)
		return -1;
	r->body_len = have - hl < want ? have - hl : want;
	memcpy(r->body, buf + hl, r->body_len);
	while (r->body_len < want) {
		ssize_t n = recv(fd, r->body + r->body_len, want - r->body_len, 0);
		if (n <= 0)
			return -1;
		r->body_len += (size_t)n;
	}
	if (want_eof) {
		char c;
		r->eof = recv(fd, &c, 1, 0) == 0;
	}
	return 0;
}

/* One request on a fresh connection. */
static int
do_get(uint16_t port, const char *raw, struct resp *r, bool head_only)
{
	int fd = tcp_connect(port, 0), ret = -1;

	if (fd < 0)
		return -1;
	if (send_all(fd, raw) == 0)
		ret = read_resp(fd, r, head_only, false);
	close(fd);
	return ret;
}

static void
get_path(uint16_t port, const char *method, const char *path, const char *extra, struct resp *r)
{
	char req[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n",
		 method, path, extra ? extra : "");
	if (do_get(port, req, r, strcmp(method, "HEAD") == 0) < 0) {
		memset(r, 0, sizeof(*r));
		r->status = -1;
	}
}

/* ---- events ------------------------------------------------------------------ */

#define EV_MAX 4096
static struct evq_event evs[EV_MAX];
static size_t nevs;

static void
drain(void)
{
	struct evq_event *e;

	while ((e = evq_pop(&q))) {
		if (nevs < EV_MAX)
			evs[nevs++] = *e;
		free(e);
	}
}

static void
forget(void)
{
	drain();
	nevs = 0;
}

/* Count events of type (and file unless NULL); status < 0 matches any; complete
 * -1 any, 0/1 exact. */
static size_t
count(enum evq_type type, const char *file, int status, int complete)
{
	size_t n = 0;

	for (size_t i = 0; i < nevs; i++) {
		const struct evq_event *e = &evs[i];
		if (e->type != type || (file && strcmp(e->file, file) != 0) ||
		    (status >= 0 && e->status != status) ||
		    (complete >= 0 && e->complete != (complete == 1)))
			continue;
		n++;
	}
	return n;
}

/* Wait up to 3 s for at least n matching events. */
static size_t
wait_count(size_t n, enum evq_type type, const char *file, int status, int complete)
{
	size_t c = 0;

	for (int i = 0; i < 300; i++) {
		drain();
		c = count(type, file, status, complete);
		if (c >= n)
			break;
		usleep(10000);
	}
	return c;
}

static const struct evq_event *
last_of(enum evq_type type)
{
	for (size_t i = nevs; i-- > 0;)
		if (evs[i].type == type)
			return &evs[i];
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint8_t *
random_bytes(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);

	srand(seed);
	for (size_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(rand() >> 7);
	return p;
}

/* ---- the tests --------------------------------------------------------------- */

static void
test_whole(uint16_t port)
{
	struct resp r;
	char v[128];

	forget();
	get_path(port, "GET", "/ota/" BIG_NAME, NULL, &r);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.clen, BIG_SIZE);
	CHECK(r.body_len == BIG_SIZE && memcmp(r.body, big, BIG_SIZE) == 0);
	CHECK_STR(header(&r, "Accept-Ranges", v, sizeof(v)), "bytes");
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), "application/octet-stream");
	CHECK(!has_header(&r, "Transfer-Encoding"));
	CHECK(!has_header(&r, "Content-Range"));
	free(r.body);

	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, BIG_NAME, 200, 1), 1);
	const struct evq_event *e = last_of(EVQ_HTTP_REQUEST);
	CHECK(e != NULL);
	if (e) {
		CHECK_STR(e->peer, "127.0.0.1");
		CHECK_STR(e->file, BIG_NAME);
		CHECK_INT(e->port, port);
		CHECK_INT(e->status, 200);
		CHECK(!e->slow);
		CHECK_INT(e->off, 0);
		CHECK_INT(e->len, BIG_SIZE);
		CHECK_INT(e->total, BIG_SIZE);
	}
	e = last_of(EVQ_HTTP_DONE);
	if (e) {
		CHECK_INT(e->sent, BIG_SIZE);
		CHECK(e->complete);
	}
	/* the request event precedes the completion */
	CHECK(nevs >= 2 && evs[0].type == EVQ_HTTP_REQUEST && !evs[0].head);

	/* the device's query string is ignored (PROTOCOL.md §4) */
	get_path(port, "GET",
		 "/ota/" BIG_NAME "?deviceid=10000abcde&ts=1234567&sign="
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 NULL, &r);
	CHECK_INT(r.status, 200);
	CHECK(r.body_len == BIG_SIZE && memcmp(r.body, big, BIG_SIZE) == 0);
	free(r.body);
	/* Its completion may trail the body (slow under sanitizers): wait for it, or
	 * it would be counted below as the HEAD's. */
	CHECK_INT(wait_count(2, EVQ_HTTP_DONE, BIG_NAME, 200, 1), 2);

	/* HEAD: headers with the size, no body, never "delivered" */
	forget();
	get_path(port, "HEAD", "/ota/" BIG_NAME, NULL, &r);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.clen, BIG_SIZE);
	CHECK_INT(r.body_len, 0);
	free(r.body);
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, BIG_NAME, 200, -1), 1);
	CHECK_INT(count(EVQ_HTTP_DONE, BIG_NAME, 200, 1), 0);
	/* ...and both of its events say HEAD, so that no consumer takes it for a
	 * download that was cut short */
	const struct evq_event *he = last_of(EVQ_HTTP_REQUEST);
	CHECK(he && he->head);
	he = last_of(EVQ_HTTP_DONE);
	CHECK(he && he->head && he->sent == 0);
}

struct range_row {
	const char *hdr;
	int status;
	uint64_t off, len;  /* 206: the expected range */
	const char *crange; /* expected Content-Range, NULL: none */
};

static void
test_ranges(uint16_t port)
{
	static const struct range_row rows[] = {
		{"bytes=0-4095", 206, 0, 4096, "bytes 0-4095/300001"},
		{"bytes=4096-8191", 206, 4096, 4096, "bytes 4096-8191/300001"},
		{"bytes=299000-", 206, 299000, 1001, "bytes 299000-300000/300001"},
		{"bytes=-100", 206, 300001 - 100, 100, "bytes 299901-300000/300001"},
		{"bytes=5-5", 206, 5, 1, "bytes 5-5/300001"},
		{"bytes=299990-400000", 206, 299990, 11, "bytes 299990-300000/300001"},
		/* bigger than the buffer path: through the content reader */
		{"bytes=1000-200999", 206, 1000, 200000, "bytes 1000-200999/300001"},
		{"bytes=0-", 206, 0, BIG_SIZE, "bytes 0-300000/300001"},
		{"bytes=300001-", 416, 0, 0, "bytes */300001"},
		{"bytes=400000-400100", 416, 0, 0, "bytes */300001"},
		{"bytes=-0", 416, 0, 0, "bytes */300001"},
		/* ignored: whole file */
		{"bytes=a-b", 200, 0, BIG_SIZE, NULL},
		{"bytes=0-1,5-6", 200, 0, BIG_SIZE, NULL},
		{"items=0-5", 200, 0, BIG_SIZE, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct range_row *w = &rows[i];
		struct resp r;
		char extra[128], v[128];

		forget();
		snprintf(extra, sizeof(extra), "Range: %s\r\n", w->hdr);
		get_path(port, "GET", "/ota/" BIG_NAME, extra, &r);
		CHECK_MSG(r.status == w->status, "%s: status %d, want %d", w->hdr, r.status,
			  w->status);
		if (w->crange)
			CHECK_STR(header(&r, "Content-Range", v, sizeof(v)), w->crange);
		else
			CHECK(!has_header(&r, "Content-Range"));
		CHECK(!has_header(&r, "Transfer-Encoding"));
		if (w->status != 416) {
			CHECK_MSG(r.clen == (long)w->len, "%s: Content-Length %ld", w->hdr, r.clen);
			CHECK_MSG(r.body_len == w->len && memcmp(r.body, big + w->off, w->len) == 0,
				  "%s: body", w->hdr);
			CHECK_STR(header(&r, "Accept-Ranges", v, sizeof(v)), "bytes");
		} else {
			CHECK_INT(r.clen, 0);
		}
		free(r.body);
		CHECK_MSG(wait_count(1, EVQ_HTTP_DONE, BIG_NAME, w->status, -1) == 1, "%s: DONE",
			  w->hdr);
		const struct evq_event *e = last_of(EVQ_HTTP_REQUEST);
		if (e && w->status == 206) {
			CHECK_INT(e->off, w->off);
			CHECK_INT(e->len, w->len);
		}
		e = last_of(EVQ_HTTP_DONE);
		if (e)
			CHECK_MSG(e->complete == (w->status != 416), "%s: complete", w->hdr);
	}
}

static void
test_not_found(uint16_t port)
{
	static const struct {
		const char *method, *path;
		int status;
	} rows[] = {
		{"GET", "/ota/nope.bin", 404},
		{"GET", "/ota/../x", 404},
		{"GET", "/ota/../" BIG_NAME, 404},
		{"GET", "/ota/%2e%2e/", 404},
		{"GET", "/ota/%2e%2e/" BIG_NAME, 404},
		{"GET", "/ota//" BIG_NAME, 404},
		{"GET", "/ota//image..", 404},
		{"GET", "/OTA/" BIG_NAME, 404},
		{"GET", "/ota/" BIG_NAME "/", 404},
		{"GET", "/ota/image%5fuser1-0x01000.bin", 404},
		{"GET", "/ota/" BIG_NAME "%00", 404},
		{"GET", "/ota/", 404},
		{"GET", "/ota", 404},
		{"GET", "/", 404},
		{"GET", "/static/" BIG_NAME, 404},
		{"GET", "/slowota/nope.bin", 404},
		{"GET", "/api/ws", 404},
		{"POST", "/dispatch/device", 404}, /* legacy off */
		{"GET", "http://127.0.0.1/ota/" BIG_NAME, 404},
		{"POST", "/ota/" BIG_NAME, 405},
		{"PUT", "/ota/" BIG_NAME, 405},
		{"DELETE", "/slowota/" SLOW_NAME, 405},
	};

	forget();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct resp r;
		char v[64];

		get_path(port, rows[i].method, rows[i].path, NULL, &r);
		CHECK_MSG(r.status == rows[i].status, "%s %s: %d, want %d", rows[i].method,
			  rows[i].path, r.status, rows[i].status);
		CHECK(!has_header(&r, "Transfer-Encoding"));
		if (rows[i].status == 405)
			CHECK_STR(header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
		free(r.body);
	}
	/* never a "delivered" file for any of them */
	CHECK_INT(wait_count(sizeof(rows) / sizeof(rows[0]), EVQ_HTTP_DONE, NULL, -1, -1),
		  sizeof(rows) / sizeof(rows[0]));
	CHECK_INT(count(EVQ_HTTP_DONE, NULL, -1, 1), 0);
	CHECK_INT(count(EVQ_HTTP_REQUEST, NULL, 404, -1), 19);
}

/* Espressif2Arduino's ESP8266HTTPClient request (PROTOCOL.md §5.3). */
static void
test_http10(uint16_t port)
{
	struct resp r;
	int fd = tcp_connect(port, 0);
	char v[64];

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(send_all(fd, "GET /ota/" BIG_NAME " HTTP/1.0\r\nHost: 192.168.4.2:8080\r\n"
			       "User-Agent: ESP8266HTTPClient\r\nConnection: close\r\n\r\n"),
		  0);
	CHECK_INT(read_resp(fd, &r, false, true), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.clen, BIG_SIZE);
	CHECK(r.body_len == BIG_SIZE && memcmp(r.body, big, BIG_SIZE) == 0);
	CHECK(r.eof);
	CHECK(!has_header(&r, "Transfer-Encoding"));
	CHECK(header(&r, "Connection", v, sizeof(v)) == NULL || strcasecmp(v, "close") == 0);
	free(r.body);
	close(fd);
	/* its completion may trail the body: wait, so the next test starts clean */
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, BIG_NAME, 200, 1), 1);
}

/* The stock firmware's way: many 4 KB ranges on one keep-alive connection. */
static void
test_range_loop(uint16_t port)
{
	uint8_t *got = calloc(1, BIG_SIZE);
	int fd = tcp_connect(port, 0);
	size_t n = 0, reqs = 0;
	bool ok = true;

	forget();

	CHECK(fd >= 0 && got);
	if (fd < 0 || !got) {
		free(got);
		return;
	}
	while (n < BIG_SIZE && ok) {
		char req[512];
		struct resp r;

		snprintf(req, sizeof(req),
			 "GET /ota/" BIG_NAME "?deviceid=10000abcde&ts=%zu&sign=00 HTTP/1.1\r\n"
			 "Host: 192.168.0.2:8080\r\nRange: bytes=%zu-%zu\r\n\r\n",
			 reqs, n, n + 4095);
		ok = send_all(fd, req) == 0 && read_resp(fd, &r, false, false) == 0 &&
		     r.status == 206 && r.body_len > 0 && n + r.body_len <= BIG_SIZE;
		if (ok) {
			memcpy(got + n, r.body, r.body_len);
			n += r.body_len;
		}
		free(r.body);
		reqs++;
	}
	CHECK(ok);
	CHECK_INT(n, BIG_SIZE);
	CHECK_INT(reqs, (BIG_SIZE + 4095) / 4096);
	CHECK(memcmp(got, big, BIG_SIZE) == 0);
	close(fd);
	free(got);
	CHECK_INT(wait_count(reqs, EVQ_HTTP_DONE, BIG_NAME, 206, 1), reqs);
	CHECK_INT(count(EVQ_HTTP_REQUEST, BIG_NAME, 206, -1), reqs);
	uint64_t sum = 0;
	for (size_t i = 0; i < nevs; i++)
		if (evs[i].type == EVQ_HTTP_DONE && evs[i].status == 206)
			sum += evs[i].sent;
	CHECK_INT(sum, BIG_SIZE);
}

/* A client that hangs up mid-body: the file is not delivered. */
static void
test_abort(uint16_t port)
{
	int fd = tcp_connect(port, 4096);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	char buf[1024];

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	forget();
	CHECK_INT(send_all(fd, "GET /ota/" HUGE_NAME " HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	CHECK(recv(fd, buf, sizeof(buf), 0) > 0);
	usleep(100000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* RST */
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, HUGE_NAME, 200, -1), 1);
	const struct evq_event *e = last_of(EVQ_HTTP_DONE);
	if (e) {
		CHECK(!e->complete);
		CHECK(e->sent < HUGE_SIZE);
	}
}

/* /slowota/: 10 bytes, 0.9 s, then 1400 bytes every 0.3 s (PROTOCOL.md §3.6), while a
 * fast download on another connection is not slowed and no CPU is burnt. */
static void
test_slow(uint16_t port)
{
	char buf[RESP_HEAD_MAX + 16], v[128];
	int fd = tcp_connect(port, 0);
	size_t have = 0, body = 0, hl = 0, maxchunk = 0;
	double t0 = 0, t_first = 0, t_second = 0, t_end = 0, gaps_max = 0, gaps_min = 99;
	double cpu0, tprev = 0;
	struct resp r;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	forget();
	cpu0 = cpu_s();
	t0 = now_s();
	/* a Range header is ignored by the slow path */
	CHECK_INT(send_all(fd, "GET /slowota/" SLOW_NAME "?deviceid=1&ts=2&sign=3 HTTP/1.1\r\n"
			       "Host: x\r\nRange: bytes=0-99\r\n\r\n"),
		  0);
	/* read the head and the first 10 bytes */
	while (!hl || have - hl < 10) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *e = strstr(buf, "\r\n\r\n");
		if (e && !hl)
			hl = (size_t)(e - buf) + 4;
	}
	t_first = now_s() - t0;
	CHECK(hl > 0);
	CHECK_INT(have - hl, 10);
	memset(&r, 0, sizeof(r));
	snprintf(r.head, sizeof(r.head), "%.*s", (int)(hl ? hl - 2 : 0), buf);
	CHECK(strncmp(r.head, "HTTP/1.1 200", 12) == 0);
	CHECK_STR(header(&r, "Content-Length", v, sizeof(v)), "5610");
	CHECK_STR(header(&r, "X-Powered-By", v, sizeof(v)), "Express");
	CHECK_STR(header(&r, "Content-Disposition", v, sizeof(v)),
		  "attachment; filename=\"" SLOW_NAME "\"");
	CHECK_STR(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=0");
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), "application/octet-stream");
	CHECK(!has_header(&r, "Transfer-Encoding"));
	CHECK(!has_header(&r, "Content-Range"));
	CHECK(memcmp(buf + hl, slow, 10) == 0);
	body = 10;

	/* meanwhile a fast download completes at full speed */
	double tf = now_s();
	struct resp fast;
	get_path(port, "GET", "/ota/" BIG_NAME, NULL, &fast);
	tf = now_s() - tf;
	CHECK_INT(fast.status, 200);
	CHECK(fast.body_len == BIG_SIZE && memcmp(fast.body, big, BIG_SIZE) == 0);
	CHECK_MSG(tf < 0.3, "fast download took %.3f s during a paced one", tf);
	free(fast.body);

	/* then the paced chunks */
	uint8_t *got = malloc(SLOW_SIZE);
	memcpy(got, slow, 10);
	tprev = t_first;
	while (got && body < SLOW_SIZE) {
		ssize_t n = recv(fd, got + body, SLOW_SIZE - body, 0);
		if (n <= 0)
			break;
		double t = now_s() - t0;
		if (body == 10)
			t_second = t;
		else {
			if (t - tprev > gaps_max)
				gaps_max = t - tprev;
			if (t - tprev < gaps_min)
				gaps_min = t - tprev;
		}
		tprev = t;
		if ((size_t)n > maxchunk)
			maxchunk = (size_t)n;
		body += (size_t)n;
	}
	t_end = now_s() - t0;
	double cpu = cpu_s() - cpu0 - 0; /* the fast download's CPU is included */
	CHECK_INT(body, SLOW_SIZE);
	CHECK(got && memcmp(got, slow, SLOW_SIZE) == 0);
	CHECK_MSG(t_first < 0.3, "first 10 bytes after %.3f s", t_first);
	CHECK_MSG(t_second - t_first > 0.75 && t_second - t_first < 1.2,
		  "second chunk %.3f s after the first", t_second - t_first);
	CHECK_MSG(gaps_min > 0.2 && gaps_max < 0.5, "chunk gaps %.3f..%.3f s", gaps_min, gaps_max);
	CHECK_MSG(t_end > 1.6 && t_end < 2.6, "paced transfer took %.3f s", t_end);
	CHECK_MSG(maxchunk <= 1400, "a read returned %zu bytes", maxchunk);
	CHECK_MSG(cpu < 0.25, "%.3f s CPU during a %.1f s paced transfer", cpu, t_end);
	free(got);
	close(fd);

	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, SLOW_NAME, 200, 1), 1);
	CHECK(nevs > 0 && evs[0].type == EVQ_HTTP_REQUEST && evs[0].slow && evs[0].status == 200 &&
	      strcmp(evs[0].file, SLOW_NAME) == 0 && evs[0].len == SLOW_SIZE);
	CHECK(count(EVQ_HTTP_PROGRESS, SLOW_NAME, 200, -1) >= 2);
	uint64_t prev = 0;
	bool mono = true;
	for (size_t i = 0; i < nevs; i++)
		if (evs[i].type == EVQ_HTTP_PROGRESS && strcmp(evs[i].file, SLOW_NAME) == 0) {
			mono = mono && evs[i].sent > prev && evs[i].sent < SLOW_SIZE;
			prev = evs[i].sent;
		}
	CHECK(mono);
	printf("slowota: first %.3f s, second %.3f s, end %.3f s, gaps %.3f..%.3f s, "
	       "cpu %.3f s, fast download %.3f s\n",
	       t_first, t_second, t_end, gaps_min, gaps_max, cpu, tf);
}

/* A paced download whose client hangs up is not delivered. */
static void
test_slow_abort(uint16_t port)
{
	int fd = tcp_connect(port, 0);
	char buf[1024];

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	forget();
	CHECK_INT(send_all(fd, "GET /slowota/" SLOW_NAME " HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	CHECK(recv(fd, buf, sizeof(buf), 0) > 0);
	close(fd);
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, SLOW_NAME, 200, -1), 1);
	const struct evq_event *e = last_of(EVQ_HTTP_DONE);
	CHECK(e && !e->complete && e->sent < SLOW_SIZE);
}

/* The DIY route's completion POST (docs/diy.md): only that path, only POST, a bounded
 * body; the event carries the decoded "error". Off unless asked for. */
static void
test_diy_completion(struct imgsrv_file *files)
{
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1", .files = files, .nfiles = 3, .evq = &q,
	};
	struct imgsrv *s = NULL;
	char err[256], req[1024];
	const struct evq_event *e;
	struct resp r;
	uint16_t port;

	/* without diy_completion the path is a plain 404 and no such event comes */
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	port = imgsrv_bound_port(s);
	forget();
	snprintf(req, sizeof(req), "POST /api/device/otaFlash HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: 11\r\n\r\n{\"error\":0}");
	CHECK_INT(do_get(port, req, &r, false), 0);
	CHECK_INT(r.status, 404);
	free(r.body);
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, NULL, 404, -1), 1);
	CHECK(last_of(EVQ_HTTP_DIY_COMPLETION) == NULL);
	imgsrv_stop(s);

	o.diy_completion = true;
	s = NULL;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	port = imgsrv_bound_port(s);
	static const struct {
		const char *body;
		int status;
		bool valid;
		int error;
	} cases[] = {
		{ "{\"error\":0}", 200, true, 0 },
		{ "{\"error\":409}", 200, true, 409 },
		{ "not json", 400, false, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		forget();
		snprintf(req, sizeof(req),
			 "POST /api/device/otaFlash HTTP/1.1\r\nHost: dl.itead.cn\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(cases[i].body), cases[i].body);
		CHECK_INT(do_get(port, req, &r, false), 0);
		CHECK_INT(r.status, cases[i].status);
		if (r.body && cases[i].status == 200) {
			r.body[r.body_len] = 0;
			CHECK_STR((char *)r.body, "{\"error\":0}");
		}
		free(r.body);
		CHECK_INT(wait_count(1, EVQ_HTTP_DIY_COMPLETION, NULL, cases[i].status, -1), 1);
		e = last_of(EVQ_HTTP_DIY_COMPLETION);
		CHECK(e && e->diy_valid == cases[i].valid && e->diy_error == cases[i].error &&
		      strcmp(e->peer, "127.0.0.1") == 0);
	}
	/* only POST, only that path, a bounded body */
	get_path(port, "GET", "/api/device/otaFlash", NULL, &r);
	CHECK_INT(r.status, 405);
	free(r.body);
	get_path(port, "POST", "/api/device/otaFlash/", NULL, &r);
	CHECK_INT(r.status, 404);
	free(r.body);
	forget();
	snprintf(req, sizeof(req), "POST /api/device/otaFlash HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: %d\r\n\r\n", IMGSRV_DIY_BODY_MAX + 1);
	CHECK_INT(do_get(port, req, &r, false), 0);
	CHECK_INT(r.status, 413);
	free(r.body);
	CHECK(last_of(EVQ_HTTP_DIY_COMPLETION) == NULL);
	imgsrv_stop(s);
}

/* issue 11 (diyrun): on a DIY server the 206 range that ends the file goes through ackwatch:
 * with the connection kept open (as the device keeps it) its DONE comes only after
 * ACKWATCH_GRACE_MS of "acknowledged, no reset", not as soon as MHD handed the bytes to the
 * kernel; a range that does not end the file is reported at once, as before. */
static void
test_diy_last_range(struct imgsrv_file *files)
{
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1", .files = files, .nfiles = 3, .evq = &q,
		.diy_completion = true,
	};
	struct ackwatch *aw = NULL;
	struct imgsrv *s = NULL;
	char err[256], req[512];
	struct resp r;
	double t0, t1;
	uint16_t port;
	int fd;

	CHECK_INT(ackwatch_start(&q, 2000, &aw), 0);
	o.ackwatch = aw;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s || !aw)
		return;
	port = imgsrv_bound_port(s);
	for (int last = 0; last <= 1; last++) {
		unsigned off = last ? (BIG_SIZE / 4096) * 4096 : 4096;
		unsigned end = last ? BIG_SIZE - 1 : 8191;

		snprintf(req, sizeof(req), "GET /ota/" BIG_NAME " HTTP/1.1\r\nHost: dl.itead.cn\r\n"
			 "Range: bytes=%u-%u\r\n\r\n", off, end);
		forget();
		fd = tcp_connect(port, 0);
		CHECK(fd >= 0);
		if (fd < 0)
			break;
		CHECK_INT(send_all(fd, req), 0);
		CHECK_INT(read_resp(fd, &r, false, false), 0);
		CHECK_INT(r.status, 206);
		free(r.body);
		t0 = now_s();
		CHECK_INT(wait_count(1, EVQ_HTTP_DONE, BIG_NAME, 206, 1), 1);
		t1 = now_s();
		if (last)
			CHECK_MSG(t1 - t0 >= ACKWATCH_GRACE_MS / 1000.0 * 0.8,
				  "last range done after %.3f s: not through ackwatch", t1 - t0);
		close(fd);
	}
	imgsrv_stop(s);
	ackwatch_stop(aw);
}

static void
test_dispatch(struct imgsrv_file *files)
{
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1",
		.files = files,
		.nfiles = 3,
		.legacy_dispatch = true,
		.dispatch_ip = "192.168.0.10",
		.dispatch_port = 8443,
		.evq = &q,
	};
	struct imgsrv *s = NULL;
	char err[256], v[128];
	struct resp r;
	static const char body[] =
		"{\"accept\":\"ws;2\",\"version\":2,\"ts\":933,\"deviceid\":\"100008db11\","
		"\"apikey\":\"6f1ba0a0-5e5c-4b7b-9b8d-2f9a3c8f7e11\",\"model\":\"ITA-GZ1-GL\","
		"\"romVersion\":\"1.5.5\"}";
	char req[1024];

	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	uint16_t port = imgsrv_bound_port(s);
	forget();
	snprintf(req, sizeof(req),
		 "POST /dispatch/device HTTP/1.1\r\nHost: eu-disp.example\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	CHECK_INT(do_get(port, req, &r, false), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), "application/json");
	if (r.body) {
		r.body[r.body_len] = 0;
		CHECK_STR((char *)r.body, "{\"error\":0,\"reason\":\"ok\",\"IP\":\"192.168.0.10\","
					  "\"port\":8443}");
	}
	free(r.body);
	CHECK_INT(wait_count(1, EVQ_HTTP_DISPATCH, NULL, 200, -1), 1);
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, NULL, 200, 0), 1);
	const struct evq_event *e = last_of(EVQ_HTTP_DISPATCH);
	CHECK(e && strcmp(e->peer, "127.0.0.1") == 0 && e->port == port);

	/* other methods, the plain WebSocket and oversized bodies */
	get_path(port, "GET", "/dispatch/device", NULL, &r);
	CHECK_INT(r.status, 405);
	CHECK_STR(header(&r, "Allow", v, sizeof(v)), "POST");
	free(r.body);
	get_path(port, "GET", "/api/ws",
		 "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n", &r);
	CHECK_INT(r.status, 404);
	free(r.body);
	snprintf(req, sizeof(req),
		 "POST /dispatch/device HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
	CHECK_INT(do_get(port, req, &r, false), 0);
	CHECK_INT(r.status, 413);
	free(r.body);

	/* the file routes work on this port too */
	get_path(port, "GET", "/ota/" BIG_NAME, "Range: bytes=0-9\r\n", &r);
	CHECK_INT(r.status, 206);
	free(r.body);

	/* stopping with a paced transfer in progress is prompt and reports it */
	int fd = tcp_connect(port, 0);
	char buf[512];
	forget();
	CHECK(fd >= 0 && send_all(fd, "GET /slowota/" SLOW_NAME " HTTP/1.1\r\nHost: x\r\n\r\n") ==
				 0);
	CHECK(recv(fd, buf, sizeof(buf), 0) > 0);
	usleep(50000);
	double t = now_s();
	imgsrv_stop(s);
	t = now_s() - t;
	CHECK_MSG(t < 0.5, "stop took %.3f s", t);
	drain();
	CHECK_INT(count(EVQ_HTTP_DONE, SLOW_NAME, 200, 0), 1);
	if (fd >= 0)
		close(fd);
}

static void
test_start_errors(struct imgsrv_file *files, uint16_t busy_port)
{
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1",
		.port = busy_port,
		.files = files,
		.nfiles = 3,
		.evq = &q,
	};
	struct imgsrv *s = NULL;
	char err[256], want[32];

	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EADDRINUSE);
	CHECK(s == NULL);
	snprintf(want, sizeof(want), "port %u is busy", busy_port);
	CHECK_MSG(strstr(err, want) != NULL, "err \"%s\"", err);

	struct imgsrv_file bad[2] = {files[0], files[0]};
	o.port = 0;
	o.files = bad;
	o.nfiles = 2;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL); /* twice */
	bad[1].name = "../x";
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	bad[1].name = "a/b";
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	bad[1].name = "x.bin";
	bad[1].size = 0;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	o.nfiles = 0;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	o.files = files;
	o.nfiles = 3;
	o.bind_addr = "not-an-address";
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	o.bind_addr = "127.0.0.1";
	o.legacy_dispatch = true;
	o.dispatch_ip = "host\"name";
	o.dispatch_port = 8443;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), -EINVAL);
	CHECK(s == NULL);
	imgsrv_stop(NULL);

	/* A privileged port without the right: -EACCES naming the port. As root, try
	 * it in a child that dropped to an unprivileged user (and with it every
	 * capability). */
	pid_t pid = fork();
	if (pid == 0) {
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		o.legacy_dispatch = false;
		o.port = 81;
		int r = imgsrv_start(&o, &s, err, sizeof(err));
		imgsrv_stop(s);
		_exit(r == -EACCES && strstr(err, "port 81 ") && strstr(err, "CAP_NET_BIND_SERVICE")
			      ? 0
			      : 4);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "EACCES child: status %d", st);
}

/* Through the content reader, a long /ota/ body reports progress: growing, below
 * the total, at most ~20 per second. */
static void
test_progress(uint16_t port)
{
	int fd = tcp_connect(port, 65536);
	static uint8_t buf[65536];
	size_t got = 0;
	double t;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	forget();
	t = now_s();
	CHECK_INT(send_all(fd, "GET /ota/" HUGE_NAME " HTTP/1.1\r\nHost: x\r\n"
			       "Connection: close\r\n\r\n"),
		  0);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		usleep(400); /* a slow reader: about 0.2 s for 16 MB */
	}
	t = now_s() - t;
	close(fd);
	CHECK(got > HUGE_SIZE);
	CHECK_INT(wait_count(1, EVQ_HTTP_DONE, HUGE_NAME, 200, 1), 1);
	size_t n = count(EVQ_HTTP_PROGRESS, HUGE_NAME, 200, -1);
	CHECK_MSG(n >= 2 && n <= (size_t)(t * 20) + 2, "%zu progress events in %.3f s", n, t);
	uint64_t prev = 0;
	bool mono = true;
	for (size_t i = 0; i < nevs; i++)
		if (evs[i].type == EVQ_HTTP_PROGRESS) {
			mono = mono && evs[i].sent > prev && evs[i].sent < HUGE_SIZE &&
			       evs[i].total == HUGE_SIZE;
			prev = evs[i].sent;
		}
	CHECK(mono);
}

/* MHD's own per-connection messages (here: 431 for a huge header) reach the log,
 * but at most IMGSRV_LOG_BURST of them per window. */
static void
test_mhd_log(struct imgsrv_file *files)
{
	struct log l = {0};
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1",
		.files = files,
		.nfiles = 3,
		.evq = &q,
		.log = &l,
	};
	struct imgsrv *s = NULL;
	char err[256], line[512];
	static char req[40000];
	FILE *f = tmpfile();
	unsigned mhd = 0, suppressed = 0;

	CHECK(f != NULL);
	CHECK_INT(log_open(&l, NULL, LOG_WARN), 0);
	if (!f)
		return;
	l.console = f;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	snprintf(req, sizeof(req), "GET /ota/x HTTP/1.1\r\nX: %0*d\r\n\r\n", 35000, 0);
	for (int i = 0; i < IMGSRV_LOG_BURST + 5; i++) {
		struct resp r;
		CHECK(do_get(imgsrv_bound_port(s), req, &r, false) == 0 && r.status == 431);
		free(r.body);
	}
	imgsrv_stop(s);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		mhd += strstr(line, "mhd: ") != NULL;
		suppressed += strstr(line, "mhd: 5 more messages suppressed") != NULL;
	}
	CHECK_INT(mhd, IMGSRV_LOG_BURST + 1);
	CHECK_INT(suppressed, 1);
	l.console = stderr;
	log_close(&l);
	fclose(f);
}

/* Start a server on 127.0.0.1 with these options (evq and files filled in). */
static struct imgsrv *
start_with(struct imgsrv_file *files, struct imgsrv_opts o)
{
	struct imgsrv *s = NULL;
	char err[256];

	o.bind_addr = "127.0.0.1";
	o.files = files;
	o.nfiles = 3;
	o.evq = &q;
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s)
		fprintf(stderr, "imgsrv_start: %s\n", err);
	return s;
}

/* Issue 9 item 3: 200 devices behind one address (NAT, a test rig). Below
 * max_clients the server refuses no connection: N devices from 127.0.0.1 each hold a
 * keep-alive connection and all get their 206, concurrently. (The old per-address
 * limit of 64 refused the rest, and each refused device acked 404.) */
#define MANY_CLIENTS 200 /* the 200 devices behind one address */
static void
test_many_clients(struct imgsrv_file *files)
{
	struct imgsrv *s = start_with(files, (struct imgsrv_opts){.max_clients = MANY_CLIENTS});
	static int fds[MANY_CLIENTS];
	int ok = 0, connected = 0;

	if (!s)
		return;
	forget();
	uint16_t port = imgsrv_bound_port(s);
	for (int i = 0; i < MANY_CLIENTS; i++) {
		fds[i] = tcp_connect(port, 0);
		connected += fds[i] >= 0;
	}
	CHECK_INT(connected, MANY_CLIENTS);
	/* every connection is open before any request: all are held at once */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < MANY_CLIENTS; i++) {
			char req[256];
			snprintf(req, sizeof(req),
				 "GET /ota/" BIG_NAME "?deviceid=1000%06d&ts=%d&sign=00 HTTP/1.1\r\n"
				 "Host: 127.0.0.1\r\nRange: bytes=%d-%d\r\n\r\n",
				 i, round, 4096 * round, 4096 * round + 4095);
			if (fds[i] >= 0)
				send_all(fds[i], req);
		}
		for (int i = 0; i < MANY_CLIENTS; i++) {
			struct resp r;
			if (fds[i] >= 0 && read_resp(fds[i], &r, false, false) == 0) {
				ok += r.status == 206 && r.body_len == 4096 &&
				      memcmp(r.body, big + 4096 * round, 4096) == 0;
				free(r.body);
			}
		}
	}
	CHECK_INT(ok, 2 * MANY_CLIENTS);
	for (int i = 0; i < MANY_CLIENTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	CHECK_INT(wait_count(2 * MANY_CLIENTS, EVQ_HTTP_DONE, BIG_NAME, 206, 1), 2 * MANY_CLIENTS);
	imgsrv_stop(s);
	forget();

	/* A flood is still bounded: with 1 client, IMGSRV_CONNS_PER_CLIENT +
	 * IMGSRV_CONN_HEADROOM connections are served and one more is not (MHD stops
	 * accepting at its limit: it waits in the kernel's backlog; 1 s is enough here). */
	enum { LIMIT = IMGSRV_CONNS_PER_CLIENT + IMGSRV_CONN_HEADROOM };
	s = start_with(files, (struct imgsrv_opts){.max_clients = 1});
	if (!s)
		return;
	port = imgsrv_bound_port(s);
	ok = 0;
	for (int i = 0; i <= LIMIT; i++)
		fds[i] = tcp_connect(port, 0);
	struct timeval tv = {.tv_sec = 1};
	if (fds[LIMIT] >= 0)
		setsockopt(fds[LIMIT], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i <= LIMIT; i++) {
		struct resp r;
		if (fds[i] < 0 || send_all(fds[i], "GET /ota/" BIG_NAME " HTTP/1.1\r\n"
					   "Host: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n") < 0)
			continue;
		if (read_resp(fds[i], &r, false, false) == 0) {
			ok += r.status == 206;
			free(r.body);
		}
	}
	CHECK_INT(ok, LIMIT);
	for (int i = 0; i <= LIMIT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	imgsrv_stop(s);
	forget();
}

/* Send raw on a fresh keep-alive connection and read the answer within
 * IO_TIMEOUT_S: status (-1 none), and with want_eof whether the server then closed. */
static int
raw_status(uint16_t port, const char *raw, bool want_eof, bool *ret_closed)
{
	int fd = tcp_connect(port, 0), status = -1;
	struct resp r;

	*ret_closed = false;
	if (fd < 0)
		return -1;
	if (send_all(fd, raw) == 0 && read_resp(fd, &r, false, want_eof) == 0) {
		status = r.status;
		*ret_closed = r.eof;
		free(r.body);
	}
	close(fd);
	return status;
}

/* A request of nargs query arguments "aN=1" (and a Range, to keep bodies small). */
static char *
args_request(unsigned nargs, const char *extra_headers)
{
	size_t n = 256 + (size_t)nargs * 12 + strlen(extra_headers);
	char *req = malloc(n), *p = req;

	if (!req)
		return NULL;
	p += sprintf(p, "GET /ota/" BIG_NAME);
	for (unsigned i = 0; i < nargs; i++)
		p += sprintf(p, "%ca%u=1", i ? '&' : '?', i);
	sprintf(p, " HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n%s\r\n", extra_headers);
	return req;
}

/* Client-controlled request parts each have a named limit, and every refusal is an
 * answer (a 4xx, then the connection closes), never a hang (issue 9 item 5: 400
 * query arguments got no answer at all). */
static void
test_request_limits(struct imgsrv_file *files)
{
	struct imgsrv *s = start_with(files, (struct imgsrv_opts){0});
	static char hdrs[64 * 1024];
	struct {
		const char *what;
		unsigned nargs;
		unsigned nheaders;   /* extra "X-N: 1" headers */
		size_t path_pad;     /* extra bytes of path */
		int status;
		bool closed;
		bool by_mhd;         /* refused by MHD itself: no event */
	} rows[] = {
		{"a device's 3 arguments", 3, 0, 0, 206, false, false},
		{"IMGSRV_QUERY_ARGS_MAX arguments", IMGSRV_QUERY_ARGS_MAX, 0, 0, 206, false, false},
		{"one argument too many", IMGSRV_QUERY_ARGS_MAX + 1, 0, 0, 414, true, false},
		{"400 arguments", 400, 0, 0, 414, true, false},
		{"2000 arguments", 2000, 0, 0, 414, true, false},
		{"a request target of IMGSRV_URI_MAX bytes", 0, 0, 1, 206, false, false},
		{"a request target over IMGSRV_URI_MAX", 0, 0, 2, 414, true, false},
		{"IMGSRV_HEADERS_MAX headers", 0, IMGSRV_HEADERS_MAX - 2, 0, 206, false, false},
		{"one header too many", 0, IMGSRV_HEADERS_MAX - 1, 0, 431, true, false},
		{"2000 tiny headers", 0, 2000, 0, 431, true, true}, /* over MHD's pool */
	};

	if (!s)
		return;
	uint16_t port = imgsrv_bound_port(s);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *p = hdrs, *req;
		bool closed;
		double t0 = now_s();

		forget();

		/* Host and Range are 2 headers of the request already */
		for (unsigned h = 0; h < rows[i].nheaders; h++)
			p += sprintf(p, "X-%u: 1\r\n", h);
		*p = '\0';
		if (rows[i].path_pad) {
			/* "/ota/" + "x" * k: exactly IMGSRV_URI_MAX bytes, or one more */
			size_t len = IMGSRV_URI_MAX + rows[i].path_pad - 1;
			req = malloc(len + 128);
			if (!req)
				continue;
			strcpy(req, "GET /ota/" BIG_NAME "?");
			size_t have = strlen(req) - 4;
			memset(req + strlen(req), 'x', len - have);
			sprintf(req + 4 + len, " HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n");
		} else {
			req = args_request(rows[i].nargs, hdrs);
		}
		if (!req)
			continue;
		int st = raw_status(port, req, rows[i].closed, &closed);
		free(req);
		CHECK_MSG(st == rows[i].status, "%s: status %d, want %d", rows[i].what, st,
			  rows[i].status);
		CHECK_MSG(closed == rows[i].closed, "%s: closed %d", rows[i].what, closed);
		CHECK_MSG(now_s() - t0 < 2, "%s: %.1f s to answer", rows[i].what, now_s() - t0);
		/* a refusal of ours is one request and one (incomplete) DONE, like a 404 */
		size_t want = rows[i].by_mhd ? 0 : 1;
		if (rows[i].status >= 400)
			CHECK_MSG(wait_count(want, EVQ_HTTP_DONE, NULL, rows[i].status, 0) == want,
				  "%s: DONE", rows[i].what);
		CHECK_MSG(wait_count(want, EVQ_HTTP_REQUEST, NULL, rows[i].status, -1) == want,
			  "%s: REQUEST", rows[i].what);
		forget();
	}
	/* and the server still serves */
	struct resp r;
	get_path(port, "GET", "/ota/" BIG_NAME, "Range: bytes=0-9\r\n", &r);
	CHECK_INT(r.status, 206);
	free(r.body);
	imgsrv_stop(s);
	forget();
}

#define TIMED(call)                                                                                \
	do {                                                                                       \
		double t_ = now_s();                                                               \
		call;                                                                              \
		printf("%-32s %.3f s\n", #call, now_s() - t_);                                     \
	} while (0)

/* The file tests, with /ota/ bodies from memory (default) or all through the
 * content reader (buffer_max 1). */
static void
suite(struct imgsrv_file *files, size_t buffer_max)
{
	struct imgsrv_opts o = {
		.bind_addr = "127.0.0.1",
		.files = files,
		.nfiles = 3,
		.evq = &q,
		.limits.buffer_max = buffer_max,
	};
	struct imgsrv *s = NULL;
	char err[256];

	printf("-- buffer_max %zu\n", buffer_max);
	CHECK_INT(imgsrv_start(&o, &s, err, sizeof(err)), 0);
	if (!s) {
		fprintf(stderr, "imgsrv_start: %s\n", err);
		return;
	}
	uint16_t port = imgsrv_bound_port(s);
	CHECK(port != 0);
	TIMED(test_whole(port));
	TIMED(test_ranges(port));
	TIMED(test_not_found(port));
	TIMED(test_http10(port));
	TIMED(test_range_loop(port));
	TIMED(test_abort(port));
	if (buffer_max == 1) {
		TIMED(test_progress(port));
	} else {
		TIMED(test_slow(port));
		TIMED(test_slow_abort(port));
		TIMED(test_start_errors(files, port));
	}
	imgsrv_stop(s);
	forget();
}

int
main(void)
{
	struct imgsrv_file files[3];

	big = random_bytes(BIG_SIZE, 1);
	slow = random_bytes(SLOW_SIZE, 2);
	huge = random_bytes(HUGE_SIZE, 3);
	if (!big || !slow || !huge)
		return 1;
	files[0] = (struct imgsrv_file){BIG_NAME, big, BIG_SIZE};
	files[1] = (struct imgsrv_file){SLOW_NAME, slow, SLOW_SIZE};
	files[2] = (struct imgsrv_file){HUGE_NAME, huge, HUGE_SIZE};
	CHECK_INT(evq_init(&q, NULL, NULL), 0);

	suite(files, 0);
	suite(files, 1);
	TIMED(test_dispatch(files));
	TIMED(test_diy_completion(files));
	TIMED(test_diy_last_range(files)); /* issue 11 (diyrun) */
	TIMED(test_mhd_log(files));
	TIMED(test_many_clients(files));
	TIMED(test_request_limits(files));

	evq_fini(&q);
	free(big);
	free(slow);
	free(huge);
	return check_done();
}
