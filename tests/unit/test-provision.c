/* Unit tests of provision: an lws context runs the provisioning client against a
 * fake device pairing server on 127.0.0.1 (a thread with plain sockets), one
 * scenario per table row. The client's log goes to a memstream, which must
 * never contain the WiFi password or the device's apikey. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "check.h"
#include "log.h"
#include "provision.h"
#include "provreq.h"

#define SSID "HomeNet"
#define PASSWORD "s3cr3t-pass\"x"       /* a quote: the JSON must escape it */
#define SERVER "192.168.1.10"
#define SERVER_PORT 8443
#define DEVICEID "10000abcde"
#define APIKEY "0c4f1a2e-7d6b-4c1e-9f00-2b9d5c3e8a71"
#define DEVICE_JSON "{\"deviceid\":\"" DEVICEID "\",\"apikey\":\"" APIKEY "\",\"accept\":\"post\"}"
#define AP_JSON "{\"version\":4,\"ssid\":\"" SSID "\",\"password\":\"s3cr3t-pass\\\"x\"," \
		"\"serverName\":\"" SERVER "\",\"port\":8443}"

#define MAX_CONNS 32

/* What the fake device does with each request. */
enum fake_mode {
	FAKE_HAPPY,        /* GET: device JSON; POST: {"error":0} */
	FAKE_CHUNKED,      /* as HAPPY, replies chunked, no Content-Length */
	FAKE_BAD_DEVICE,   /* GET: 200 with a body that is not a device */
	FAKE_GET_404,      /* GET: 404 */
	FAKE_POST_DROP,    /* POST: read it, close without a reply */
	FAKE_POST_ERROR,   /* POST: {"error":400} */
	FAKE_POST_GARBAGE, /* POST: 200 with a body that is not {"error":N} */
	FAKE_SILENT,       /* read every request, never answer */
};

struct conn_rec {
	char first[2048];  /* bytes of the first read() */
	size_t first_len;
	char all[2048];    /* the whole request */
	size_t all_len;
	bool reset;        /* we reset it without reading */
	struct timespec at; /* accept time */
};

struct fake {
	int lfd;
	uint16_t port;
	enum fake_mode mode;
	unsigned reset_first;   /* reset this many connections first ("not up yet") */
	pthread_t th;
	volatile bool stop;
	pthread_mutex_t lock;
	struct conn_rec conns[MAX_CONNS];
	unsigned nconns;
};

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
reply(int fd, enum fake_mode mode, const char *status, const char *body)
{
	char buf[1024];
	int n;

	if (mode == FAKE_CHUNKED)
		n = snprintf(buf, sizeof(buf),
			     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
			     "%zx\r\n%s\r\n0\r\n\r\n",
			     status, strlen(body), body);
	else
		n = snprintf(buf, sizeof(buf),
			     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     status, strlen(body), body);
	send_all(fd, buf, (size_t)n);
}

/* Read one request: the head, then Content-Length bytes. The first read() is
 * recorded on its own: it must hold the whole request when the client wrote it
 * at once. Returns false when the client went away first. */
static bool
read_request(struct fake *f, int fd, struct conn_rec *c)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const char *hend, *cl;
		ssize_t n;

		if (poll(&pfd, 1, 100) == 0) {
			if (f->stop)
				return false;
			continue;
		}
		n = read(fd, c->all + c->all_len, sizeof(c->all) - 1 - c->all_len);
		if (n <= 0)
			return false;
		if (c->all_len == 0) {
			memcpy(c->first, c->all, (size_t)n);
			c->first_len = (size_t)n;
		}
		c->all_len += (size_t)n;
		c->all[c->all_len] = '\0';
		hend = strstr(c->all, "\r\n\r\n");
		if (!hend)
			continue;
		cl = strstr(c->all, "Content-Length: ");
		if (!cl || cl > hend)
			return true;
		if (c->all_len >= (size_t)(hend + 4 - c->all) + strtoul(cl + 16, NULL, 10))
			return true;
	}
}

static void
serve(struct fake *f, int fd, struct conn_rec *c)
{
	bool post;

	if (!read_request(f, fd, c))
		return;
	post = strncmp(c->all, "POST ", 5) == 0;
	switch (f->mode) {
	case FAKE_HAPPY:
	case FAKE_CHUNKED:
		reply(fd, f->mode, "200 OK", post ? "{\"error\":0}" : DEVICE_JSON);
		break;
	case FAKE_BAD_DEVICE:
		reply(fd, f->mode, "200 OK", post ? "{\"error\":0}" : "<html>router login</html>");
		break;
	case FAKE_GET_404:
		reply(fd, f->mode, "404 Not Found", "{}");
		break;
	case FAKE_POST_DROP:
		if (!post)
			reply(fd, f->mode, "200 OK", DEVICE_JSON);
		break;
	case FAKE_POST_ERROR:
		reply(fd, f->mode, "200 OK", post ? "{\"error\":400}" : DEVICE_JSON);
		break;
	case FAKE_POST_GARBAGE:
		reply(fd, f->mode, "200 OK", post ? "ok" : DEVICE_JSON);
		break;
	case FAKE_SILENT: {
		char b[256];

		/* hold the connection until the client gives up */
		while (!f->stop) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (poll(&pfd, 1, 50) > 0 && read(fd, b, sizeof(b)) <= 0)
				break;
		}
		break;
	}
	}
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!f->stop) {
		struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
		struct conn_rec *c;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		c = f->nconns < MAX_CONNS ? &f->conns[f->nconns++] : NULL;
		pthread_mutex_unlock(&f->lock);
		if (c) {
			clock_gettime(CLOCK_MONOTONIC, &c->at);
			if (f->nconns <= f->reset_first) {
				struct linger lg = { .l_onoff = 1, .l_linger = 0 };

				c->reset = true; /* RST: as a device whose server is not up */
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			} else {
				serve(f, fd, c);
			}
		}
		close(fd);
	}
	return NULL;
}

/* listening: false gives a bound port that refuses connections */
static void
fake_start(struct fake *f, enum fake_mode mode, unsigned reset_first, bool listening)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->reset_first = reset_first;
	pthread_mutex_init(&f->lock, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(f->lfd, (struct sockaddr *)&sa, &sl) == 0);
	f->port = ntohs(sa.sin_port);
	if (listening) {
		CHECK(listen(f->lfd, 8) == 0);
		pthread_create(&f->th, NULL, fake_main, f);
	}
}

static void
fake_stop(struct fake *f, bool listening)
{
	f->stop = true;
	if (listening)
		pthread_join(f->th, NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->lock);
}

/* ---- the client side --------------------------------------------------------- */

struct run {
	bool done;
	unsigned calls;
	enum prov_result result;
	char deviceid[64];
	bool had_deviceid;
};

static void
on_done(void *arg, enum prov_result r, const char *deviceid)
{
	struct run *run = arg;

	run->calls++;
	run->done = true;
	run->result = r;
	run->had_deviceid = deviceid != NULL;
	snprintf(run->deviceid, sizeof(run->deviceid), "%s", deviceid ? deviceid : "");
}

static struct lws_protocols protocols[3];

static struct lws_context *
make_context(struct lws_vhost **ret_vh, bool with_prov)
{
	struct lws_context_creation_info info;
	struct lws_context *cx;

	memset(protocols, 0, sizeof(protocols));
	protocols[0] = (struct lws_protocols){ "dummy", lws_callback_http_dummy, 0, 0, 0, NULL, 0 };
	if (with_prov)
		protocols[1] = prov_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	cx = lws_create_context(&info);
	CHECK(cx != NULL);
	info.vhost_name = "test";
	*ret_vh = lws_create_vhost(cx, &info);
	CHECK(*ret_vh != NULL);
	return cx;
}

/* lws_service() sleeps until lws' next event; a test-only 10 ms tick bounds
 * that sleep so service_until() can watch its clock. */
static struct lws_context *tick_cx;
static lws_sorted_usec_list_t tick_sul;

static void
tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(tick_cx, 0, sul, tick, 10 * LWS_US_PER_MS);
}

/* Service until run->done or the time limit. */
static void
service_until(struct lws_context *cx, struct run *run, unsigned limit_ms)
{
	struct timespec t0, t;

	tick_cx = cx;
	tick(&tick_sul);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		lws_service(cx, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!(run && run->done) && ms_between(&t0, &t) < limit_ms);
	lws_sul_cancel(&tick_sul);
}

struct scenario {
	const char *name;
	enum fake_mode mode;
	bool listening;
	unsigned reset_first;
	enum prov_result want;
	bool want_deviceid;
	unsigned want_conns;   /* connections the fake device saw (0: don't check) */
	bool check_post;       /* check the POST bytes */
};

static const struct scenario scenarios[] = {
	{ "happy path", FAKE_HAPPY, true, 0, PROV_OK, true, 2, true },
	{ "chunked replies", FAKE_CHUNKED, true, 0, PROV_OK, true, 2, true },
	{ "device not up for 3 attempts", FAKE_HAPPY, true, 3, PROV_OK, true, 5, true },
	{ "not a device", FAKE_BAD_DEVICE, true, 0, PROV_BAD_REPLY, false, 1, false },
	{ "GET answered 404", FAKE_GET_404, true, 0, PROV_BAD_REPLY, false, 1, false },
	{ "closes after POST", FAKE_POST_DROP, true, 0, PROV_POSTED_NO_REPLY, true, 2, true },
	{ "POST refused", FAKE_POST_ERROR, true, 0, PROV_REJECTED, true, 2, true },
	{ "POST reply garbage", FAKE_POST_GARBAGE, true, 0, PROV_POSTED_NO_REPLY, true, 2, true },
	{ "never answers", FAKE_SILENT, true, 0, PROV_DEVICE_UNREACHABLE, false, 4, false },
	{ "connection refused", FAKE_HAPPY, false, 0, PROV_DEVICE_UNREACHABLE, false, 0, false },
};

#define T_ATTEMPTS 4
#define T_GET_TIMEOUT 300
#define T_POST_TIMEOUT 400
#define T_BACKOFF_FIRST 60
#define T_BACKOFF_MAX 200

static void
check_post_bytes(const struct scenario *s, const struct fake *f, const struct conn_rec *c)
{
	char want_head[512];
	const char *body;

	CHECK_MSG(!c->reset, "%s: POST connection was reset", s->name);
	/* one write: the first read() holds the whole request */
	CHECK_MSG(c->first_len == c->all_len && c->all_len > 0,
		  "%s: POST arrived in pieces (first read %zu of %zu bytes)", s->name,
		  c->first_len, c->all_len);
	snprintf(want_head, sizeof(want_head),
		 "POST /ap HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 f->port, strlen(AP_JSON));
	CHECK_MSG(strncmp(c->all, want_head, strlen(want_head)) == 0, "%s: POST head:\n%s",
		  s->name, c->all);
	body = strstr(c->all, "\r\n\r\n");
	CHECK_MSG(body && strcmp(body + 4, AP_JSON) == 0, "%s: POST body \"%s\"", s->name,
		  body ? body + 4 : "(none)");
	CHECK_MSG(!strstr(c->all, "Expect"), "%s: Expect header sent", s->name);
	CHECK_MSG(c->all_len < 1400, "%s: POST of %zu bytes", s->name, c->all_len);
}

static void
run_scenario(const struct scenario *s)
{
	struct prov_opts o = { 0 };
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct run run = { 0 };
	struct prov *p = NULL;
	struct log lg = { 0 };
	struct fake f;
	char *logbuf = NULL;
	size_t loglen = 0;
	unsigned nconns;

	fake_start(&f, s->mode, s->reset_first, s->listening);
	CHECK(log_open(&lg, NULL, LOG_DEBUG) == 0);
	lg.console = open_memstream(&logbuf, &loglen);

	cx = make_context(&vh, true);
	o.device_addr = "127.0.0.1";
	o.device_port = f.port;
	o.ssid = SSID;
	o.password = PASSWORD;
	o.server_name = SERVER;
	o.server_port = SERVER_PORT;
	o.max_get_attempts = T_ATTEMPTS;
	o.get_timeout_ms = T_GET_TIMEOUT;
	o.post_timeout_ms = T_POST_TIMEOUT;
	o.backoff_first_ms = T_BACKOFF_FIRST;
	o.backoff_max_ms = T_BACKOFF_MAX;
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), 0);
	CHECK_MSG(!run.done, "%s: callback inside prov_start", s->name);

	service_until(cx, &run, 5000);
	/* nothing may follow the one callback */
	service_until(cx, NULL, 100);

	CHECK_MSG(run.calls == 1, "%s: %u callbacks", s->name, run.calls);
	CHECK_MSG(run.result == s->want, "%s: result %s, want %s", s->name,
		  prov_result_name(run.result), prov_result_name(s->want));
	CHECK_MSG(run.had_deviceid == s->want_deviceid, "%s: deviceid \"%s\"", s->name,
		  run.deviceid);
	if (s->want_deviceid)
		CHECK_STR(run.deviceid, DEVICEID);

	prov_cancel(p);
	lws_context_destroy(cx);
	fake_stop(&f, s->listening);

	pthread_mutex_lock(&f.lock);
	nconns = f.nconns;
	pthread_mutex_unlock(&f.lock);
	if (s->want_conns)
		CHECK_MSG(nconns == s->want_conns, "%s: %u connections, want %u", s->name, nconns,
			  s->want_conns);
	if (s->check_post && nconns >= 1)
		check_post_bytes(s, &f, &f.conns[nconns - 1]);
	if (nconns >= 1 && !f.conns[0].reset) {
		char want[128];

		snprintf(want, sizeof(want),
			 "GET /device HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
			 f.port);
		CHECK_MSG(strcmp(f.conns[0].all, want) == 0, "%s: GET \"%s\"", s->name,
			  f.conns[0].all);
	}
	/* backoff: attempt k+1 starts at least backoff(k) after attempt k started */
	for (unsigned k = 1; k < nconns && k <= s->reset_first; k++) {
		double gap = ms_between(&f.conns[k - 1].at, &f.conns[k].at);
		unsigned bo = T_BACKOFF_FIRST << (k - 1);

		if (bo > T_BACKOFF_MAX)
			bo = T_BACKOFF_MAX;
		CHECK_MSG(gap >= bo - 5, "%s: attempt %u after %.1f ms, backoff %u ms", s->name,
			  k + 1, gap, bo);
	}

	log_close(&lg); /* console is not closed by the logger */
	fclose(lg.console);
	CHECK_MSG(logbuf && !strstr(logbuf, "s3cr3t"), "%s: password in the log:\n%s", s->name,
		  logbuf);
	CHECK_MSG(logbuf && !strstr(logbuf, APIKEY), "%s: apikey in the log", s->name);
	if (s->want_deviceid)
		CHECK_MSG(logbuf && strstr(logbuf, "\"" DEVICEID "\""), "%s: deviceid not logged",
			  s->name);
	if (getenv("TEST_PROVISION_VERBOSE"))
		fprintf(stderr, "--- %s ---\n%s", s->name, logbuf);
	free(logbuf);
}

/* Bad options and a vhost without the protocol are refused up front. */
static void
test_start_errors(void)
{
	struct prov_opts good = { .device_addr = "127.0.0.1", .device_port = 9, .ssid = SSID,
				  .password = PASSWORD, .server_name = SERVER,
				  .server_port = SERVER_PORT };
	struct prov_opts o;
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct log lg = { 0 };
	struct run run = { 0 };
	struct prov *p = (struct prov *)&run; /* must stay untouched */
	char longpw[80];

	CHECK(log_open(&lg, NULL, LOG_ERR) == 0);
	memset(longpw, 'p', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';

	cx = make_context(&vh, false);
	CHECK_INT(prov_start(cx, vh, &good, &lg, on_done, &run, &p), -ENOPROTOOPT);
	lws_context_destroy(cx);

	cx = make_context(&vh, true);
	o = good;
	o.device_addr = "10.10.7";
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), -EINVAL);
	o = good;
	o.device_addr = "localhost";
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), -EINVAL);
	o = good;
	o.password = longpw;
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), -EINVAL);
	o = good;
	o.ssid = "";
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), -EINVAL);
	o = good;
	o.server_name = NULL;
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), -EINVAL);
	CHECK(p == (struct prov *)&run);
	CHECK(!run.done);
	lws_context_destroy(cx);
	log_close(&lg);
}

/* prov_cancel mid-run: no callback, no crash; destroying the context mid-run
 * reports PROV_CANCELLED, and prov_cancel after that is still safe. */
static void
test_cancel_and_destroy(void)
{
	struct prov_opts o = { .device_addr = "127.0.0.1", .ssid = SSID, .password = PASSWORD,
			       .server_name = SERVER, .server_port = SERVER_PORT,
			       .get_timeout_ms = 2000 };
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct log lg = { 0 };
	struct run run = { 0 };
	struct prov *p = NULL;
	struct fake f;

	CHECK(log_open(&lg, NULL, LOG_ERR) == 0);
	fake_start(&f, FAKE_SILENT, 0, true);
	o.device_port = f.port;

	cx = make_context(&vh, true);
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), 0);
	service_until(cx, NULL, 150); /* connected, waiting for a reply */
	prov_cancel(p);
	service_until(cx, NULL, 100);
	CHECK_INT(run.calls, 0);

	p = NULL;
	CHECK_INT(prov_start(cx, vh, &o, &lg, on_done, &run, &p), 0);
	service_until(cx, NULL, 150);
	lws_context_destroy(cx);
	CHECK_INT(run.calls, 1);
	CHECK_INT(run.result, PROV_CANCELLED);
	prov_cancel(p);

	fake_stop(&f, true);
	CHECK(f.nconns == 2);
	log_close(&lg);
}

/* The pure parts (src/provreq.c): requests as bytes, the reply's verdict, the backoff. */
static void
test_provreq(void)
{
	char buf[PROV_REQUEST_MAX + 1];
	int n, err = -1;

	n = provreq_get(buf, sizeof(buf), "10.10.7.1", 80);
	CHECK_STR(buf, "GET /device HTTP/1.1\r\nHost: 10.10.7.1\r\nConnection: close\r\n\r\n");
	CHECK_INT(n, (int)strlen(buf));
	provreq_get(buf, sizeof(buf), "10.10.7.1", 8080);
	CHECK(strstr(buf, "Host: 10.10.7.1:8080\r\n") != NULL);
	CHECK_INT(provreq_get(buf, 20, "10.10.7.1", 80), -EMSGSIZE);
	n = provreq_post(buf, sizeof(buf), "10.10.7.1", 80, "home", "password1", "192.168.1.10",
			 8443);
	CHECK(n > 0 && (size_t)n == strlen(buf));
	const char *body = strstr(buf, "\r\n\r\n");
	CHECK(body != NULL);
	if (body) {
		char cl[48];
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body + 4));
		CHECK(strstr(buf, cl) != NULL);
	}
	CHECK_INT(provreq_post(buf, 100, "10.10.7.1", 80, "home", "password1", "192.168.1.10",
			       8443), -EMSGSIZE);
	CHECK_INT(provreq_post(buf, sizeof(buf), "10.10.7.1", 80, "", "password1", "h", 8443),
		  -EINVAL);
	CHECK_INT(provreq_parse_ap_reply("{\"error\":0}\r\n", 13, &err), 0);
	CHECK_INT(err, 0);
	CHECK_INT(provreq_parse_ap_reply("{\"error\":-1}", 12, &err), 0);
	CHECK_INT(err, -1);
	CHECK_INT(provreq_parse_ap_reply("{\"error\":0}x", 12, &err), -EINVAL);
	CHECK_INT(provreq_parse_ap_reply("{\"error\":0.5}", 13, &err), -EINVAL);
	CHECK_INT(provreq_parse_ap_reply("[0]", 3, &err), -EINVAL);
	CHECK_INT(provreq_backoff_ms(500, 4000, 1), 500);
	CHECK_INT(provreq_backoff_ms(500, 4000, 3), 2000);
	CHECK_INT(provreq_backoff_ms(500, 4000, 9), 4000);
}

int
main(void)
{
	lws_set_log_level(LLL_ERR, NULL);
	test_provreq();
	test_start_errors();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
	test_cancel_and_destroy();
	return check_done();
}
