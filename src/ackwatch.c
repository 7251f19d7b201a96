/* ackwatch: see ackwatch.h. Linux TCP only (SIOCOUTQ, TCP_INFO). */
#include "config.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ackwatch.h"

struct ackwatch_entry {
	int fd;                /* -1: free slot */
	struct evq_event done; /* pushed once decided */
	uint64_t since_ms;     /* added */
	uint64_t acked_ms;     /* first seen fully acknowledged, 0 not yet */
};

struct ackwatch {
	struct evq *q;
	unsigned timeout_ms;                    /* give up on acknowledgement after this */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool quit;
	unsigned n;                             /* entries in use */
	struct ackwatch_entry e[ACKWATCH_MAX];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum verdict { PENDING, DELIVERED, LOST };

/* Look at one socket. */
static enum verdict
judge(const struct ackwatch *aw, struct ackwatch_entry *e, uint64_t now, bool final)
{
	int err = 0, outq = 0;
	socklen_t len = sizeof(err);
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);

	if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		return LOST; /* reset (ECONNRESET, EPIPE) or another error */
	if (ioctl(e->fd, SIOCOUTQ, &outq) < 0)
		return LOST;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(e->fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0)
		return LOST;
	if (outq > 0) {
		if (ti.tcpi_state == TCP_CLOSE)
			return LOST; /* torn down with bytes unacknowledged */
		if (final || now - e->since_ms >= aw->timeout_ms)
			return LOST;
		e->acked_ms = 0;
		return PENDING;
	}
	/* Everything written was acknowledged. A clean close by the peer settles it;
	 * otherwise wait a little for a reset of unread data. */
	switch (ti.tcpi_state) {
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_TIME_WAIT:
	case TCP_CLOSING:
	case TCP_CLOSE:
		return DELIVERED;
	default:
		break;
	}
	if (!e->acked_ms)
		e->acked_ms = now;
	if (final || now - e->acked_ms >= ACKWATCH_GRACE_MS)
		return DELIVERED;
	return PENDING;
}

/* Decide entry i (lock held): push its event, close its socket. */
static void
settle(struct ackwatch *aw, unsigned i, bool delivered)
{
	struct ackwatch_entry *e = &aw->e[i];
	e->done.complete = e->done.complete && delivered;
	(void)evq_push(aw->q, &e->done);
	close(e->fd);
	e->fd = -1;
	aw->n--;
}

static void *
watch_main(void *arg)
{
	struct ackwatch *aw = arg;

	pthread_mutex_lock(&aw->lock);
	for (;;) {
		while (!aw->quit && aw->n == 0)
			pthread_cond_wait(&aw->cond, &aw->lock);
		if (aw->quit)
			break;
		uint64_t now = mono_ms();
		for (unsigned i = 0; i < ACKWATCH_MAX; i++) {
			if (aw->e[i].fd < 0)
				continue;
			enum verdict v = judge(aw, &aw->e[i], now, false);
			if (v != PENDING)
				settle(aw, i, v == DELIVERED);
		}
		if (aw->n) {
			/* The condition variable waits on CLOCK_MONOTONIC (ackwatch_start):
			 * a wall-clock step (NTP after a WiFi hop) neither stalls nor
			 * hurries this poll. */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += ACKWATCH_POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&aw->cond, &aw->lock, &ts);
		}
	}
	pthread_mutex_unlock(&aw->lock);
	return NULL;
}

int
ackwatch_start(struct evq *q, unsigned timeout_ms, struct ackwatch **ret)
{
	struct ackwatch *aw = calloc(1, sizeof(*aw));
	if (!aw)
		return -ENOMEM;
	aw->q = q;
	aw->timeout_ms = timeout_ms ? timeout_ms : ACKWATCH_TIMEOUT_MS;
	for (unsigned i = 0; i < ACKWATCH_MAX; i++)
		aw->e[i].fd = -1;
	int r = pthread_mutex_init(&aw->lock, NULL);
	if (r) {
		free(aw);
		return -r;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	if ((r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) ||
	    (r = pthread_cond_init(&aw->cond, &ca))) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&aw->lock);
		free(aw);
		return -r;
	}
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&aw->thread, NULL, watch_main, aw))) {
		pthread_cond_destroy(&aw->cond);
		pthread_mutex_destroy(&aw->lock);
		free(aw);
		return -r;
	}
	*ret = aw;
	return 0;
}

int
ackwatch_add(struct ackwatch *aw, int fd, const struct evq_event *done)
{
	pthread_mutex_lock(&aw->lock);
	for (unsigned i = 0; i < ACKWATCH_MAX && !aw->quit; i++) {
		if (aw->e[i].fd >= 0)
			continue;
		aw->e[i] = (struct ackwatch_entry){ .fd = fd, .done = *done, .since_ms = mono_ms() };
		aw->e[i].done.next = NULL;
		aw->n++;
		pthread_cond_signal(&aw->cond);
		pthread_mutex_unlock(&aw->lock);
		return 0;
	}
	pthread_mutex_unlock(&aw->lock);
	struct evq_event lost = *done;
	lost.complete = false;
	(void)evq_push(aw->q, &lost);
	close(fd);
	return -ENOSPC;
}

void
ackwatch_stop(struct ackwatch *aw)
{
	if (!aw)
		return;
	pthread_mutex_lock(&aw->lock);
	aw->quit = true;
	pthread_cond_signal(&aw->cond);
	pthread_mutex_unlock(&aw->lock);
	pthread_join(aw->thread, NULL);
	uint64_t now = mono_ms();
	for (unsigned i = 0; i < ACKWATCH_MAX; i++)
		if (aw->e[i].fd >= 0)
			settle(aw, i, judge(aw, &aw->e[i], now, true) == DELIVERED);
	pthread_cond_destroy(&aw->cond);
	pthread_mutex_destroy(&aw->lock);
	free(aw);
}
