/* Unit tests of src/ackwatch.c on 127.0.0.1: a response counts as delivered only
 * when the peer acknowledged every byte and did not reset the connection. Its
 * waits run on CLOCK_MONOTONIC: this executable interposes pthread_cond_init and
 * pthread_cond_timedwait (the static libsonota binds to them) to see the clock
 * the watcher's condition variable was made with and the deadlines it passes. */
#include "config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ackwatch.h"
#include "check.h"
#include "evq.h"

#define PAYLOAD (256 * 1024) /* more than a small receive buffer, less than the kernel's */
#define SMALL 16384          /* fits the peer's receive buffer: all acked before any read */
#define TEST_TIMEOUT_MS 600  /* the watcher's acknowledgement timeout in this test */

/* What the interposers saw; cond_clock only while watching_init is set. */
static atomic_bool watching_init;
static atomic_int cond_clock = -1;
static atomic_int timedwaits, timedwaits_off_monotonic;

int
pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	int (*real)(pthread_cond_t *, const pthread_condattr_t *) =
		(int (*)(pthread_cond_t *, const pthread_condattr_t *))dlsym(RTLD_NEXT,
									      "pthread_cond_init");
	if (watching_init) {
		clockid_t clk = CLOCK_REALTIME; /* the default of a NULL attribute */
		if (a)
			pthread_condattr_getclock(a, &clk);
		cond_clock = (int)clk;
	}
	return real(c, a);
}

int
pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs)
{
	int (*real)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *) =
		(int (*)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *))dlsym(
			RTLD_NEXT, "pthread_cond_timedwait");
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ahead = (double)(abs->tv_sec - now.tv_sec) + (double)(abs->tv_nsec - now.tv_nsec) / 1e9;
	timedwaits++;
	if (ahead < -0.5 || ahead > 5)
		timedwaits_off_monotonic++; /* not a deadline on the monotonic clock */
	return real(c, m, abs);
}

static struct evq_event *
wait_event(struct evq *q)
{
	struct evq_event *e = NULL;
	for (int i = 0; i < 300 && !(e = evq_pop(q)); i++)
		usleep(10000);
	return e;
}

/* A connected pair over loopback TCP: *srv (the server side) and *cli. */
static int
tcp_pair(int *srv, int *cli, int cli_rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (cli_rcvbuf)
		setsockopt(*cli, SOL_SOCKET, SO_RCVBUF, &cli_rcvbuf, sizeof(cli_rcvbuf));
	if (connect(*cli, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	*srv = accept(l, NULL, NULL);
	close(l);
	return *srv < 0 ? -1 : 0;
}

static size_t
read_n(int fd, size_t n)
{
	static char buf[65536];
	size_t got = 0;
	while (got < n) {
		size_t want = n - got < sizeof(buf) ? n - got : sizeof(buf);
		ssize_t r = read(fd, buf, want);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* The server writes PAYLOAD bytes (from a thread-free non-blocking loop, while the
 * client reads), hands a dup to the watcher, then behaves like MHD: closes its fd. */
static struct evq_event *
run_case(struct ackwatch *aw, struct evq *q, size_t client_reads, bool client_closes,
	 int cli_rcvbuf)
{
	int s, c;
	if (tcp_pair(&s, &c, cli_rcvbuf) < 0)
		return NULL;
	char *data = calloc(1, PAYLOAD);
	size_t off = 0, got = 0;
	int fl = 1;
	setsockopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &fl, sizeof(fl));
	while (off < PAYLOAD) {
		ssize_t w = send(s, data + off, PAYLOAD - off, MSG_DONTWAIT);
		if (w > 0)
			off += (size_t)w;
		if (got < client_reads) {
			struct pollfd p = { .fd = c, .events = POLLIN };
			if (poll(&p, 1, 10) > 0)
				got += read_n(c, 1);
		} else if (w <= 0) {
			break; /* the client stopped reading: the rest stays unsent */
		}
	}
	free(data);
	struct evq_event done = { .type = EVQ_HTTP_DONE, .complete = true, .len = PAYLOAD };
	ackwatch_add(aw, dup(s), &done);
	close(s); /* MHD closes its own descriptor */
	if (got < client_reads)
		got += read_n(c, client_reads - got);
	if (client_closes)
		close(c);
	struct evq_event *e = NULL;
	for (int i = 0; i < 300 && !(e = evq_pop(q)); i++)
		usleep(10000);
	if (!client_closes)
		close(c);
	return e;
}

int
main(void)
{
	struct evq q;
	struct ackwatch *aw;
	CHECK_INT(evq_init(&q, NULL, NULL), 0);
	watching_init = true;
	CHECK_INT(ackwatch_start(&q, TEST_TIMEOUT_MS, &aw), 0);
	watching_init = false;
	CHECK_MSG(cond_clock == CLOCK_MONOTONIC, "the watcher's condition variable waits on "
		  "clock %d, want CLOCK_MONOTONIC (%d)", cond_clock, CLOCK_MONOTONIC);

	/* Read everything, then close cleanly (FIN): delivered. */
	struct evq_event *e = run_case(aw, &q, PAYLOAD, true, 0);
	CHECK(e && e->complete);
	free(e);

	/* Read half, then close with unread data: the kernel resets: NOT delivered,
	 * although every byte may have been handed to (and buffered by) TCP. */
	e = run_case(aw, &q, PAYLOAD / 2, true, 0);
	CHECK(e && !e->complete);
	free(e);

	/* Read everything and stay connected: delivered after the grace period. */
	e = run_case(aw, &q, PAYLOAD, false, 0);
	CHECK(e && e->complete);
	free(e);

	/* A small window (like the device's lwIP) and only a quarter read, then a
	 * close: NOT delivered. */
	e = run_case(aw, &q, PAYLOAD / 4, true, 4096);
	CHECK(e && !e->complete);
	free(e);

	/* The peer's kernel buffers (and acknowledges) everything, the peer app reads
	 * nothing and then closes: a reset after the queue drained. Only the grace
	 * period catches this; declaring delivery on an empty queue alone would not. */
	{
		int s2, c2;
		CHECK_INT(tcp_pair(&s2, &c2, 0), 0);
		char small[SMALL] = { 0 };
		CHECK_INT(send(s2, small, sizeof(small), 0), SMALL);
		usleep(50000); /* acknowledged by now: the watcher sees an empty queue */
		struct evq_event d = { .type = EVQ_HTTP_DONE, .complete = true, .len = SMALL };
		ackwatch_add(aw, dup(s2), &d);
		close(s2);
		usleep(3 * ACKWATCH_POLL_MS * 1000);
		close(c2); /* unread data: reset */
		e = wait_event(&q);
		CHECK_MSG(e && !e->complete, "a reset after the queue drained must not count");
		free(e);
	}

	/* A peer that never reads with a small window: never fully acknowledged, NOT
	 * delivered once the timeout passes, although it stays connected. */
	{
		int s3, c3;
		CHECK_INT(tcp_pair(&s3, &c3, 4096), 0);
		char *big = calloc(1, PAYLOAD);
		size_t off = 0;
		for (int i = 0; i < 100 && off < PAYLOAD; i++) {
			ssize_t w = send(s3, big + off, PAYLOAD - off, MSG_DONTWAIT);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(big);
		struct evq_event d = { .type = EVQ_HTTP_DONE, .complete = true, .len = PAYLOAD };
		ackwatch_add(aw, dup(s3), &d);
		close(s3);
		e = wait_event(&q);
		CHECK_MSG(e && !e->complete, "an unacknowledged response must time out as lost");
		free(e);
		close(c3);
	}

	/* A completion that MHD already judged incomplete stays incomplete. */
	int s, c;
	CHECK_INT(tcp_pair(&s, &c, 0), 0);
	struct evq_event bad = { .type = EVQ_HTTP_DONE, .complete = false };
	ackwatch_add(aw, dup(s), &bad);
	close(s);
	close(c);
	e = NULL;
	for (int i = 0; i < 300 && !(e = evq_pop(&q)); i++)
		usleep(10000);
	CHECK(e && !e->complete);
	free(e);

	/* Every deadline the watcher waited for was on the monotonic clock. */
	CHECK(timedwaits > 0);
	CHECK_MSG(timedwaits_off_monotonic == 0, "%d of %d waits had a deadline off the "
		  "monotonic clock", timedwaits_off_monotonic, timedwaits);

	ackwatch_stop(aw);
	ackwatch_stop(NULL);
	evq_fini(&q);
	return check_done();
}
