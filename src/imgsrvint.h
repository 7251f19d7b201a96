/* imgsrvint: the image server's private parts, shared by its three files (not a
 * public interface: include imgsrv.h for that).
 *   imgsrv.c       options, listening socket, MHD start/stop, MHD's logger
 *   imgsrvreq.c    one request: routing, answers, events, completion
 *   imgsrvpace.c   the content reader, progress events and the /slowota/ pacer thread
 * Threads and locks: see struct imgsrv. */
#pragma once

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "evq.h"
#include "imgsrv.h"

enum req_kind {
	REQ_OTHER = 0, /* 404 or 405 from a shared response */
	REQ_FILE,      /* /ota/<name> or /slowota/<name> */
	REQ_DISPATCH,  /* legacy POST /dispatch/device */
	REQ_DIY,       /* the DIY route's completion POST /api/device/otaFlash */
};

/* One request, from the access handler's first call to the completion callback
 * (which frees it). Only the MHD thread that owns the connection touches it, except
 * the pacer fields, which srv->lock guards. */
struct imgsrv_req {
	struct imgsrv *srv;            /* back pointer, borrowed */
	struct MHD_Connection *conn;   /* MHD's connection, borrowed */
	enum req_kind kind;
	int status;                    /* HTTP status queued */
	const struct imgsrv_file *file; /* REQ_FILE: the file, in srv->files */
	bool slow;                     /* /slowota/: paced */
	bool head;                     /* HEAD: headers only, never complete */
	bool buffered;                 /* body served from memory without the reader */
	bool http10;                   /* an HTTP/1.0 request: E2A's downloader (§5.3) */
	uint64_t off, len;             /* the body: file bytes [off, off + len) */
	uint64_t handed;               /* body bytes MHD had written when it last asked */
	uint64_t produced;             /* body bytes given to MHD */
	uint64_t prog_sent;            /* handed at the last progress event */
	uint64_t prog_ms;              /* time of the last progress event (or the request) */
	size_t body_seen;              /* request body bytes seen (and ignored) */
	char diy_body[IMGSRV_DIY_BODY_MAX]; /* REQ_DIY: the body, kept to be parsed */
	char peer[EVQ_PEER_MAX];       /* client address */
	/* pacer, under srv->lock */
	uint64_t due_ms;               /* slow: the next chunk may be produced from then on */
	bool suspended;                /* slow: MHD-suspended, linked in srv->paced */
	struct imgsrv_req *next;       /* srv->paced link */
};

struct imgsrv {
	struct MHD_Daemon *mhd;        /* owned; stopped first */
	uint16_t port;                 /* bound port */
	struct imgsrv_file files[IMGSRV_FILES_MAX]; /* copies of the triples (data borrowed) */
	size_t nfiles;
	bool legacy;                   /* serve POST /dispatch/device */
	bool diy;                      /* serve POST /api/device/otaFlash */
	char *dispatch_json;           /* the prebuilt dispatch reply, owned (free()) */
	struct evq *evq;               /* borrowed */
	struct ackwatch *ackwatch;     /* borrowed, may be NULL: see imgsrv_opts */
	struct log *log;               /* borrowed, may be NULL */
	size_t block_size;             /* content-reader block */
	size_t buffer_max;             /* bodies up to this size skip the reader */
	struct MHD_Response *r404;     /* shared responses, owned */
	struct MHD_Response *r405_file;
	struct MHD_Response *r405_post;
	struct MHD_Response *r413;
	struct MHD_Response *r414;     /* these two also close the connection */
	struct MHD_Response *r431;
	struct MHD_Response *rdispatch;
	struct MHD_Response *rdiy_ok;  /* {"error":0} */
	struct MHD_Response *r400;     /* an unreadable completion body */
	char uri_refused;              /* its address: imgsrv_on_uri()'s "refuse this request" */
	/* pacer thread (imgsrvpace.c). Lock order: lock, then MHD's internal locks
	 * (pace() suspends and imgsrv_stop() resumes under lock, so that "not stopping,
	 * listed, suspended" is one step). MHD calls imgsrv_on_completed(), the one
	 * callback that takes lock, before it takes its cleanup lock, and the pacer
	 * resumes outside lock. */
	pthread_mutex_t lock;          /* guards everything below and the pacer fields of reqs */
	pthread_cond_t cond;           /* wakes the pacer: new entry or quit */
	pthread_t pacer;
	bool lock_ok, cond_ok, pacer_ok; /* what imgsrv_stop() must undo */
	bool stopping;                 /* no more suspending; readers abort */
	bool pacer_quit;
	struct imgsrv_req *paced;      /* suspended slow transfers (unordered, few) */
	/* MHD's messages, rate-limited; under log_lock, never taken with lock held or
	 * around an MHD call (MHD may log while holding its own locks) */
	pthread_mutex_t log_lock;
	bool log_lock_ok;
	uint64_t log_window_ms;        /* start of the current window */
	unsigned log_count;            /* messages in it */
	unsigned long log_suppressed;  /* dropped in it */
};

/* imgsrvreq.c */

/* Fill ev for request r (type, counters, peer, file name). */
void imgsrv_make_event(const struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type,
		       uint64_t sent, bool complete, struct evq_event *ev);
/* Push one event for r to the loop; a dropped or failed push is not reported. */
void imgsrv_push_event(struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type,
		       uint64_t sent, bool complete);
/* MHD's access handler (MHD_AccessHandlerCallback), cls = srv. */
enum MHD_Result imgsrv_on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls);
/* MHD_OPTION_NOTIFY_COMPLETED: pushes EVQ_HTTP_DONE (or hands it to the ackwatch) and
 * frees the request. cls = srv. */
void imgsrv_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe);
/* MHD_OPTION_URI_LOG_CALLBACK: refuses over-long targets (returns &srv->uri_refused). */
void *imgsrv_on_uri(void *cls, const char *uri, struct MHD_Connection *c);

/* imgsrvpace.c */

/* MHD content reader for r (cls): copies file bytes, paces /slowota/, reports progress. */
ssize_t imgsrv_read_body(void *cls, uint64_t pos, char *buf, size_t max);
/* The pacer thread's body (arg = srv); returns once srv->pacer_quit is set. */
void *imgsrv_pacer_main(void *arg);
/* Unlink r from the pacer's list if it is there (takes srv->lock). */
void imgsrv_pacer_forget(struct imgsrv *srv, struct imgsrv_req *r);
