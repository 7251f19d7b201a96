/* Unit tests of diyclient: an lws context runs the client against a fake DIY device on
 * 127.0.0.1 (a thread with plain sockets). Each scenario checks how the exchange ended
 * (REPLY + code, RESET, TIMEOUT, BAD_REPLY), that the request arrived in one read as
 * HTTP/1.1 with the deviceid as asked, and that two requests are at least DIY_REQ_GAP_MS
 * apart (the client waits itself). */
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
#include "diyclient.h"
#include "log.h"

enum fake_mode {
	FK_INFO_OBJECT, /* info 3.6: data as an object, otaUnlock true */
	FK_INFO_STRING, /* info 3.3: data as a string, otaUnlock false */
	FK_ERROR_422,   /* {"seq":1,"error":422} */
	FK_CLOSE,       /* read the request, close without a reply */
	FK_SILENT,      /* read the request, never answer */
	FK_HTML,        /* 200 text/html */
	FK_HUGE,        /* more bytes than any reply */
};

#define MAX_CONNS 8

struct fake {
	int lfd;
	uint16_t port;
	enum fake_mode mode;
	pthread_t th;
	volatile bool stop;
	char first[MAX_CONNS][1024]; /* the first read() of each connection */
	size_t first_len[MAX_CONNS];
	struct timespec at[MAX_CONNS];
	volatile unsigned nconns;
};

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
reply_json(int fd, const char *ctype, const char *body)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n%s",
		 ctype, strlen(body), body);
	send_str(fd, buf);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!f->stop) {
		struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
		unsigned i;
		ssize_t n;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		i = f->nconns < MAX_CONNS ? f->nconns : MAX_CONNS - 1;
		clock_gettime(CLOCK_MONOTONIC, &f->at[i]);
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 2000) > 0) {
			n = recv(fd, f->first[i], sizeof(f->first[i]) - 1, 0);
			f->first_len[i] = n > 0 ? (size_t)n : 0;
			f->first[i][f->first_len[i]] = '\0';
		}
		f->nconns++;
		switch (f->mode) {
		case FK_INFO_OBJECT:
			reply_json(fd, "application/json",
				   "{\"seq\":2,\"error\":0,\"data\":{\"switch\":\"off\",\"startup\":"
				   "\"off\",\"pulse\":\"off\",\"pulseWidth\":500,\"ssid\":\"Home\","
				   "\"otaUnlock\":true,\"fwVersion\":\"3.6.0\",\"deviceid\":"
				   "\"1000abcdef\",\"bssid\":\"ec:17:2f:3d:15:e\","
				   "\"signalStrength\":-47}}");
			break;
		case FK_INFO_STRING:
			reply_json(fd, "application/json",
				   "{\"seq\":2,\"error\":0,\"data\":\"{\\\"switch\\\":\\\"off\\\","
				   "\\\"startup\\\":\\\"off\\\",\\\"pulse\\\":\\\"off\\\","
				   "\\\"pulseWidth\\\":500,\\\"ssid\\\":\\\"Home\\\","
				   "\\\"otaUnlock\\\":false}\"}");
			break;
		case FK_ERROR_422:
			reply_json(fd, "application/json", "{\"seq\":1,\"error\":422}");
			break;
		case FK_CLOSE:
			break;
		case FK_SILENT:
			while (!f->stop && poll(&pfd, 1, 50) == 0)
				;
			break;
		case FK_HTML:
			reply_json(fd, "text/html", "<html>unsupported</html>");
			break;
		case FK_HUGE: {
			static char big[DIYCLIENT_RX_MAX + 512];

			memset(big, 'x', sizeof(big) - 1);
			send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n");
			send_str(fd, big);
			break;
		}
		}
		close(fd);
	}
	return NULL;
}

static bool
fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->lfd, 8) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &alen) < 0)
		return false;
	f->port = ntohs(a.sin_port);
	return pthread_create(&f->th, NULL, fake_main, f) == 0;
}

static void
fake_stop(struct fake *f)
{
	f->stop = true;
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* ---- the lws side ------------------------------------------------------------------ */

struct run {
	unsigned calls;
	struct diyclient_done d[4];
	struct diyclient *c; /* for the chained second request */
	const char *ip;
	uint16_t port;
	bool chain;          /* send info again from the callback */
};

static void
on_done(void *arg, const struct diyclient_done *d)
{
	struct run *r = arg;

	if (r->calls < 4)
		r->d[r->calls] = *d;
	r->calls++;
	if (r->chain && r->calls == 1)
		CHECK_INT(diyclient_send(r->c, r->ip, r->port, DIYFLOW_STEP_INFO, NULL, NULL, 1000,
					 on_done, r),
			  0);
}

static struct lws_protocols protocols[3];
static struct lws_context *tick_cx;
static lws_sorted_usec_list_t tick_sul;

static void
tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(tick_cx, 0, sul, tick, 10 * LWS_US_PER_MS);
}

static struct lws_context *
make_context(struct lws_vhost **vh)
{
	struct lws_context_creation_info info;
	struct lws_context *cx;

	memset(protocols, 0, sizeof(protocols));
	protocols[0] = (struct lws_protocols){ "dummy", lws_callback_http_dummy, 0, 0, 0, NULL, 0 };
	protocols[1] = diyclient_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	cx = lws_create_context(&info);
	info.vhost_name = "test";
	*vh = cx ? lws_create_vhost(cx, &info) : NULL;
	return cx;
}

static void
service_until(struct lws_context *cx, struct run *r, unsigned want_calls, unsigned limit_ms)
{
	struct timespec t0, t;

	tick_cx = cx;
	tick(&tick_sul);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		lws_service(cx, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (r->calls < want_calls && ms_between(&t0, &t) < limit_ms);
	lws_sul_cancel(&tick_sul);
}

struct scenario {
	const char *name;
	enum fake_mode mode;
	bool listening;
	enum diyflow_step step;
	const char *deviceid;
	enum diyflow_outcome want;
	int want_error;
	bool want_info;
};

static const struct scenario scenarios[] = {
	{ "info 3.6 object", FK_INFO_OBJECT, true, DIYFLOW_STEP_INFO, "1000abcdef", DIYFLOW_OUT_REPLY,
	  0, true },
	{ "info 3.3 string", FK_INFO_STRING, true, DIYFLOW_STEP_INFO, NULL, DIYFLOW_OUT_REPLY, 0,
	  true },
	{ "unlock 422", FK_ERROR_422, true, DIYFLOW_STEP_UNLOCK, "1000abcdef", DIYFLOW_OUT_REPLY, 422,
	  false },
	{ "empty reply", FK_CLOSE, true, DIYFLOW_STEP_INFO, "1000abcdef", DIYFLOW_OUT_RESET, 0,
	  false },
	{ "hang", FK_SILENT, true, DIYFLOW_STEP_UNLOCK, NULL, DIYFLOW_OUT_TIMEOUT, 0, false },
	{ "html", FK_HTML, true, DIYFLOW_STEP_INFO, NULL, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "too long", FK_HUGE, true, DIYFLOW_STEP_INFO, NULL, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "refused", FK_INFO_OBJECT, false, DIYFLOW_STEP_INFO, NULL, DIYFLOW_OUT_RESET, 0, false },
};

static void
run_scenario(const struct scenario *s)
{
	struct lws_vhost *vh;
	struct lws_context *cx = make_context(&vh);
	struct run r = { 0 };
	struct diyclient *c = NULL;
	struct fake f;
	struct log lg;
	uint16_t port;

	fprintf(stderr, "-- %s\n", s->name);
	CHECK(cx && vh);
	CHECK(log_open(&lg, NULL, LOG_ERR) == 0);
	CHECK(fake_start(&f, s->mode));
	port = f.port;
	if (!s->listening)
		fake_stop(&f); /* the port is closed: connect is refused */
	CHECK_INT(diyclient_new(cx, vh, &lg, &c), 0);
	CHECK_INT(diyclient_send(c, "127.0.0.1", port, s->step, s->deviceid, NULL, 600, on_done, &r),
		  0);
	CHECK(diyclient_busy(c));
	CHECK_INT(diyclient_send(c, "127.0.0.1", port, s->step, NULL, NULL, 600, on_done, &r),
		  -EBUSY);
	CHECK_INT(r.calls, 0); /* never inside send */
	service_until(cx, &r, 1, 3000);
	CHECK_INT(r.calls, 1);
	CHECK_MSG(r.d[0].res.outcome == s->want, "%s: outcome %d, want %d", s->name,
		  r.d[0].res.outcome, s->want);
	CHECK_INT(r.d[0].res.error, s->want_error);
	CHECK_INT(r.d[0].res.step, s->step);
	CHECK_INT(r.d[0].res.sent_deviceid, s->deviceid != NULL);
	CHECK_INT(r.d[0].has_info, s->want_info);
	if (s->want_info && s->mode == FK_INFO_STRING) {
		CHECK(r.d[0].info.data_is_string);
		CHECK(!r.d[0].info.ota_unlock);
	}
	if (s->want_info && s->mode == FK_INFO_OBJECT)
		CHECK_STR(r.d[0].info.fw_version, "3.6.0");
	CHECK(!diyclient_busy(c));
	if (s->listening) {
		fake_stop(&f);
		CHECK_INT(f.nconns, 1);
		/* one read holds the whole request: head and body, HTTP/1.1 */
		CHECK(strncmp(f.first[0], "POST /zeroconf/", 15) == 0);
		CHECK(strstr(f.first[0], " HTTP/1.1\r\n") != NULL);
		CHECK(strstr(f.first[0], "\r\n\r\n{") != NULL);
		CHECK(f.first[0][f.first_len[0] - 1] == '}');
		CHECK((strstr(f.first[0], "\"deviceid\":\"1000abcdef\"") != NULL) ==
		      (s->deviceid != NULL));
		CHECK(strstr(f.first[0], "\"deviceid\":\"\"") == NULL);
	}
	diyclient_free(c);
	lws_context_destroy(cx);
	log_close(&lg);
}

/* Two requests back to back: the second connects DIY_REQ_GAP_MS after the first ended. */
static void
test_gap(void)
{
	struct lws_vhost *vh;
	struct lws_context *cx = make_context(&vh);
	struct run r = { 0 };
	struct fake f;
	struct log lg;
	double gap;

	fprintf(stderr, "-- gap\n");
	CHECK(log_open(&lg, NULL, LOG_ERR) == 0);
	CHECK(fake_start(&f, FK_INFO_OBJECT));
	CHECK_INT(diyclient_new(cx, vh, &lg, &r.c), 0);
	r.ip = "127.0.0.1";
	r.port = f.port;
	r.chain = true;
	CHECK_INT(diyclient_send(r.c, r.ip, r.port, DIYFLOW_STEP_INFO, "1000abcdef", NULL, 1000,
				 on_done, &r),
		  0);
	service_until(cx, &r, 2, 4000);
	CHECK_INT(r.calls, 2);
	CHECK_INT(r.d[1].res.outcome, DIYFLOW_OUT_REPLY);
	fake_stop(&f);
	CHECK_INT(f.nconns, 2);
	gap = ms_between(&f.at[0], &f.at[1]);
	CHECK_MSG(gap >= DIY_REQ_GAP_MS, "connects %.1f ms apart, want >= %d", gap, DIY_REQ_GAP_MS);
	CHECK_MSG(gap < DIY_REQ_GAP_MS + 400, "connects %.1f ms apart: too slow", gap);

	/* bad arguments */
	CHECK_INT(diyclient_send(r.c, "example.com", 8081, DIYFLOW_STEP_INFO, NULL, NULL, 100,
				 on_done, &r),
		  -EINVAL);
	CHECK_INT(diyclient_send(r.c, "127.0.0.1", 8081, DIYFLOW_STEP_INFO, "", NULL, 100, on_done,
				 &r),
		  -EINVAL);
	CHECK_INT(diyclient_send(r.c, "127.0.0.1", 8081, DIYFLOW_STEP_FLASH, "1", NULL, 100, on_done,
				 &r),
		  -EINVAL);
	/* freed while waiting: no callback */
	r.chain = false;
	CHECK_INT(diyclient_send(r.c, r.ip, 9, DIYFLOW_STEP_INFO, NULL, NULL, 100, on_done, &r), 0);
	diyclient_free(r.c);
	service_until(cx, &r, 3, 300);
	CHECK_INT(r.calls, 2);
	lws_context_destroy(cx);
	log_close(&lg);
}

int
main(void)
{
	size_t i;

	lws_set_log_level(0, NULL);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
	test_gap();
	return check_done();
}
