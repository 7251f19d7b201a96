/* Unit tests of src/evq.c, the one channel from the MHD thread to the loop:
 * FIFO order, the wake-up after every push, the cap that drops only progress
 * events, and no loss with concurrent producers. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "evq.h"

static atomic_uint wakes;

static void
wake(void *arg)
{
	(void)arg;
	wakes++;
}

static void
test_fifo_and_wake(void)
{
	struct evq q;
	CHECK_INT(evq_init(&q, wake, NULL), 0);
	wakes = 0;
	for (int i = 0; i < 10; i++) {
		struct evq_event e = { .type = EVQ_HTTP_REQUEST, .status = 200 + i };
		CHECK_INT(evq_push(&q, &e), 0);
	}
	/* One wake: the queue went from empty to not empty once. */
	CHECK_INT(wakes, 1);
	for (int i = 0; i < 10; i++) {
		struct evq_event *e = evq_pop(&q);
		CHECK(e != NULL);
		if (e) {
			CHECK_INT(e->status, 200 + i);
			CHECK(e->next == NULL);
			free(e);
		}
	}
	CHECK(evq_pop(&q) == NULL);
	/* Drained: the next push wakes again. */
	struct evq_event again = { .type = EVQ_HTTP_DONE };
	CHECK_INT(evq_push(&q, &again), 0);
	CHECK_INT(wakes, 2);
	free(evq_pop(&q));
	evq_fini(&q);
}

static void
test_cap(void)
{
	struct evq q;
	CHECK_INT(evq_init(&q, NULL, NULL), 0);
	struct evq_event p = { .type = EVQ_HTTP_PROGRESS };
	for (int i = 0; i < EVQ_MAX_PENDING; i++)
		CHECK_INT(evq_push(&q, &p), 0);
	/* Progress beyond the cap is dropped and counted ... */
	CHECK_INT(evq_push(&q, &p), -ENOBUFS);
	CHECK_INT(q.dropped, 1);
	/* ... but a completion event is never lost: it decides delivery. */
	struct evq_event d = { .type = EVQ_HTTP_DONE, .complete = true };
	CHECK_INT(evq_push(&q, &d), 0);
	CHECK_INT(q.pending, EVQ_MAX_PENDING + 1);
	struct evq_event *e, *last = NULL;
	unsigned n = 0;
	while ((e = evq_pop(&q))) {
		n++;
		free(last);
		last = e;
	}
	CHECK_INT(n, EVQ_MAX_PENDING + 1);
	CHECK(last && last->type == EVQ_HTTP_DONE && last->complete);
	free(last);
	/* Queued events are freed by evq_fini (ASan's leak check sees it). */
	CHECK_INT(evq_push(&q, &d), 0);
	evq_fini(&q);
}

#define PRODUCERS 4
#define PER_PRODUCER 5000

static void *
producer(void *arg)
{
	struct evq *q = arg;
	for (int i = 0; i < PER_PRODUCER; i++) {
		struct evq_event e = { .type = EVQ_HTTP_DONE, .sent = (uint64_t)i };
		if (evq_push(q, &e) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void)
{
	struct evq q;
	pthread_t t[PRODUCERS];
	uint64_t last[PRODUCERS];
	CHECK_INT(evq_init(&q, wake, NULL), 0);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&t[i], NULL, producer, &q);
	unsigned got = 0;
	uint64_t sum = 0;
	for (int i = 0; i < PRODUCERS; i++)
		last[i] = 0;
	while (got < PRODUCERS * PER_PRODUCER) {
		struct evq_event *e = evq_pop(&q);
		if (!e)
			continue;
		got++;
		sum += e->sent;
		free(e);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		void *r;
		pthread_join(t[i], &r);
		CHECK(r == NULL);
	}
	(void)last;
	CHECK_INT(got, PRODUCERS * PER_PRODUCER);
	CHECK(sum == (uint64_t)PRODUCERS * PER_PRODUCER * (PER_PRODUCER - 1) / 2);
	CHECK(evq_pop(&q) == NULL);
	evq_fini(&q);
}

int
main(void)
{
	test_fifo_and_wake();
	test_cap();
	test_threads();
	struct evq zero = { 0 };
	evq_fini(&zero); /* safe on a zeroed struct */
	return check_done();
}
