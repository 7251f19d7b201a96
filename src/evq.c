/* evq: see evq.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"

int
evq_init(struct evq *q, void (*wake)(void *arg), void *wake_arg)
{
	memset(q, 0, sizeof(*q));
	int r = pthread_mutex_init(&q->lock, NULL);
	if (r)
		return -r;
	q->wake = wake;
	q->wake_arg = wake_arg;
	return 0;
}

int
evq_push(struct evq *q, const struct evq_event *ev)
{
	pthread_mutex_lock(&q->lock);
	if (ev->type == EVQ_HTTP_PROGRESS && q->pending >= EVQ_MAX_PENDING) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return -ENOBUFS;
	}
	struct evq_event *e = malloc(sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&q->lock);
		return -ENOMEM;
	}
	*e = *ev;
	e->next = NULL;
	/* Wake the loop only when the queue goes from empty to not empty: the loop
	 * drains until evq_pop() returns NULL, so a push onto a non-empty queue is
	 * seen by a drain that is due anyway. (One wake per event cost the MHD thread
	 * 10-15 % of its time under load, docs/PERFORMANCE.md.) */
	bool was_empty = q->head == NULL;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->pending++;
	pthread_mutex_unlock(&q->lock);

	if (was_empty && q->wake)
		q->wake(q->wake_arg);
	return 0;
}

struct evq_event *
evq_pop(struct evq *q)
{
	pthread_mutex_lock(&q->lock);
	struct evq_event *e = q->head;
	if (e) {
		q->head = e->next;
		if (!q->head)
			q->tail = NULL;
		q->pending--;
		e->next = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	return e;
}

void
evq_fini(struct evq *q)
{
	struct evq_event *e;

	/* A zeroed struct holds a zeroed mutex, which is PTHREAD_MUTEX_INITIALIZER on
	 * glibc, so destroying it is harmless. */
	while ((e = q->head)) {
		q->head = e->next;
		free(e);
	}
	q->tail = NULL;
	q->pending = 0;
	pthread_mutex_destroy(&q->lock);
}
