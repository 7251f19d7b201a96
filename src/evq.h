/* evq: the one channel from the libmicrohttpd thread to the lws loop thread.
 *
 * The MHD thread pushes events under a mutex and then calls the wake callback
 * (lws_cancel_service); the loop drains everything in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED. Nothing else crosses the thread boundary:
 * the MHD thread never touches struct sonota.
 */
#pragma once

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVQ_MAX_PENDING 4096 /* progress events beyond this are dropped (counted);
			      * completion events are always kept */
#define EVQ_PEER_MAX 48      /* "a.b.c.d" or an IPv6 literal */
#define EVQ_NAME_MAX 64      /* image file names are short and known */

enum evq_type {
	EVQ_HTTP_REQUEST,  /* a request was answered: status, range */
	EVQ_HTTP_PROGRESS, /* bytes of a response were handed to the socket */
	EVQ_HTTP_DONE,     /* a response ended: complete (all Content-Length bytes) or not */
	EVQ_HTTP_DISPATCH, /* plain-HTTP POST /dispatch/device on the legacy port */
	EVQ_HTTP_DIY_COMPLETION, /* a DIY device's POST /api/device/otaFlash (docs/diy.md) */
};

struct evq_event {
	enum evq_type type;
	uint16_t port;               /* the local port that served it */
	char peer[EVQ_PEER_MAX];     /* the client's address */
	char file[EVQ_NAME_MAX];     /* image file name, "" if none */
	bool slow;                   /* served through /slowota/ */
	bool head;                   /* a HEAD request: headers only, never a download */
	int status;                  /* HTTP status sent */
	uint64_t off, len;           /* the range served (whole file: 0, size) */
	uint64_t sent;               /* body bytes handed to the socket so far */
	uint64_t total;              /* the file's size */
	bool complete;               /* EVQ_HTTP_DONE: every body byte was sent */
	bool diy_valid;              /* EVQ_HTTP_DIY_COMPLETION: the body decoded */
	int diy_error;               /* ... and its "error" (0: the device flashed it) */
	struct evq_event *next;      /* queue link, owned by the queue */
};

struct evq {
	pthread_mutex_t lock;
	struct evq_event *head, *tail; /* FIFO of heap events, owned */
	size_t pending;                /* events queued */
	uint64_t dropped;              /* progress events dropped at the cap */
	void (*wake)(void *arg);       /* called after a push onto an empty queue, outside
					* the lock; the loop then drains until empty */
	void *wake_arg;
};

/* Returns 0 or -errno. wake may be NULL (tests drain by hand). */
int evq_init(struct evq *q, void (*wake)(void *arg), void *wake_arg);

/* Copy ev into the queue; wake the loop if the queue was empty. Thread-safe. Returns 0, -ENOBUFS when
 * a progress event was dropped at the cap, or -ENOMEM. */
int evq_push(struct evq *q, const struct evq_event *ev);

/* Take the oldest event, or NULL. The caller frees it with free(). Thread-safe. */
struct evq_event *evq_pop(struct evq *q);

/* Free every queued event and the lock. Safe on a zeroed struct. */
void evq_fini(struct evq *q);
