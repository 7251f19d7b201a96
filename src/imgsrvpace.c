/* imgsrv, the body: the MHD content reader (progress events, /slowota/ pacing) and the
 * pacer thread that resumes paced transfers when their next chunk is due. See
 * imgsrvint.h for the lock order. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "imgsrvint.h"
#include "util.h"

#define IMGSRV_PROGRESS_BYTES 32768  /* a progress event after this many more bytes ... */
#define IMGSRV_PROGRESS_FRACTION 10  /* ... or after 1/10 of the body, whichever is less, */
#define IMGSRV_PROGRESS_MIN_MS 50    /* ... but at most 20 per second and transfer */

/* Bytes [0, handed) of the body are in the socket: maybe tell the loop. The last
 * byte is never reported here, EVQ_HTTP_DONE says it. */
static void
maybe_progress(struct imgsrv_req *r, uint64_t handed)
{
	uint64_t delta = handed - r->prog_sent;

	if (handed == 0 || handed >= r->len)
		return;
	if (delta < IMGSRV_PROGRESS_BYTES && delta * IMGSRV_PROGRESS_FRACTION < r->len)
		return;
	uint64_t now = util_mono_ms();
	if (now - r->prog_ms < IMGSRV_PROGRESS_MIN_MS)
		return;
	r->prog_sent = handed;
	r->prog_ms = now;
	imgsrv_push_event(r->srv, r, EVQ_HTTP_PROGRESS, handed, false);
}

/* Paced transfers only: decide whether the next chunk is due. If it is not,
 * suspend the connection until the pacer resumes it. Returns the byte count to
 * produce now (0: suspended), or -1 when the server is stopping. MHD documents
 * suspending from a content reader as safe; suspended connections neither time out
 * nor cost CPU. */
static ssize_t
pace(struct imgsrv_req *r, uint64_t pos)
{
	struct imgsrv *srv = r->srv;
	uint64_t now = util_mono_ms();

	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		return -1;
	}
	if (pos > 0 && now < r->due_ms) {
		r->suspended = true;
		r->next = srv->paced;
		srv->paced = r;
		MHD_suspend_connection(r->conn);
		pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		return 0;
	}
	r->due_ms = now + (pos == 0 ? IMGSRV_SLOW_FIRST_PAUSE_MS : IMGSRV_SLOW_PAUSE_MS);
	pthread_mutex_unlock(&srv->lock);
	return pos == 0 ? IMGSRV_SLOW_FIRST : IMGSRV_SLOW_CHUNK;
}

/* MHD content reader: pos counts body bytes already handed to the socket. */
ssize_t
imgsrv_read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct imgsrv_req *r = cls;
	size_t n;

	if (pos >= r->len)
		return MHD_CONTENT_READER_END_OF_STREAM; /* not reached: MHD knows the size */
	n = r->len - pos < max ? (size_t)(r->len - pos) : max;
	if (r->slow) {
		ssize_t due = pace(r, pos);
		if (due < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (due == 0)
			return 0;
		if ((size_t)due < n)
			n = (size_t)due;
	}
	r->handed = pos;
	maybe_progress(r, pos);
	memcpy(buf, r->file->data + r->off + pos, n);
	r->produced = pos + n;
	return (ssize_t)n;
}

/* The pacer: resume each suspended transfer when its next chunk is due. Sleeps on
 * the condition variable (CLOCK_MONOTONIC) until the earliest due time. */
void *
imgsrv_pacer_main(void *arg)
{
	struct imgsrv *srv = arg;

	pthread_mutex_lock(&srv->lock);
	while (!srv->pacer_quit) {
		uint64_t now = util_mono_ms(), earliest = UINT64_MAX;
		struct imgsrv_req **pp = &srv->paced, *due = NULL;

		while (*pp) {
			struct imgsrv_req *r = *pp;
			if (r->due_ms <= now) {
				*pp = r->next;
				r->suspended = false;
				r->next = due;
				due = r;
			} else {
				if (r->due_ms < earliest)
					earliest = r->due_ms;
				pp = &r->next;
			}
		}
		if (due) {
			/* Resume outside our lock, so that no MHD lock is ever taken under
			 * it here. A suspended connection cannot complete, so each request
			 * stays valid until its resume; no one else resumes it, as it is no
			 * longer listed. */
			pthread_mutex_unlock(&srv->lock);
			while (due) {
				struct imgsrv_req *r = due;
				struct MHD_Connection *c = r->conn;
				due = r->next;
				r->next = NULL;
				MHD_resume_connection(c);
			}
			pthread_mutex_lock(&srv->lock);
			continue;
		}
		if (earliest == UINT64_MAX) {
			pthread_cond_wait(&srv->cond, &srv->lock);
		} else {
			struct timespec ts = {
				.tv_sec = earliest / 1000,
				.tv_nsec = (earliest % 1000) * 1000000,
			};
			pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

void
imgsrv_pacer_forget(struct imgsrv *srv, struct imgsrv_req *r)
{
	/* A suspended connection is never completed, but never leave a dangling
	 * pointer in the pacer's list either. */
	pthread_mutex_lock(&srv->lock);
	if (r->suspended) {
		for (struct imgsrv_req **pp = &srv->paced; *pp; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
	}
	pthread_mutex_unlock(&srv->lock);
}
