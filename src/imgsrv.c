/* imgsrv: see imgsrv.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ackwatch.h"
#include "diy.h"
#include "imgsrv.h"
#include "proto.h"
#include "range.h"
#include "util.h"

#define IMGSRV_PROGRESS_BYTES 32768  /* a progress event after this many more bytes ... */
#define IMGSRV_PROGRESS_FRACTION 10  /* ... or after 1/10 of the body, whichever is less, */
#define IMGSRV_PROGRESS_MIN_MS 50    /* ... but at most 20 per second and transfer */
#define IMGSRV_SLOW_BLOCK 4096       /* reader buffer of a paced transfer (>= SLOW_CHUNK) */

#define OTA_PREFIX "/ota/"
#define SLOWOTA_PREFIX "/slowota/"
#define DISPATCH_PATH "/dispatch/device"
#define DIY_COMPLETION_PATH "/api/device/otaFlash"

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
	char uri_refused;              /* its address: on_uri()'s "refuse this request" */
	/* pacer thread. Lock order: lock, then MHD's internal locks (pace() suspends and
	 * imgsrv_stop() resumes under lock, so that "not stopping, listed, suspended" is
	 * one step). MHD calls on_completed(), the one callback that takes lock, before
	 * it takes its cleanup lock, and the pacer resumes outside lock. */
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

static void
make_event(const struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type,
	   uint64_t sent, bool complete, struct evq_event *ev)
{
	*ev = (struct evq_event){
		.type = type,
		.port = srv->port,
		.slow = r->slow,
		.head = r->head,
		.status = r->status,
		.off = r->off,
		.len = r->len,
		.sent = sent,
		.total = r->file ? r->file->size : 0,
		.complete = complete,
	};
	memcpy(ev->peer, r->peer, sizeof(ev->peer));
	if (r->file)
		snprintf(ev->file, sizeof(ev->file), "%s", r->file->name);
}

static void
push_event(struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type, uint64_t sent,
	   bool complete)
{
	struct evq_event ev;
	make_event(srv, r, type, sent, complete, &ev);
	/* A dropped progress event (-ENOBUFS) is counted by the queue; a failed
	 * allocation cannot be reported from here without logging per request. */
	(void)evq_push(srv->evq, &ev);
}

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
	push_event(r->srv, r, EVQ_HTTP_PROGRESS, handed, false);
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
static ssize_t
read_body(void *cls, uint64_t pos, char *buf, size_t max)
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
static void *
pacer_main(void *arg)
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

static void
peer_name(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, len, "?");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)len);
}

static const struct imgsrv_file *
find_file(const struct imgsrv *srv, const char *name)
{
	for (size_t i = 0; i < srv->nfiles; i++)
		if (strcmp(srv->files[i].name, name) == 0)
			return &srv->files[i];
	return NULL;
}

/* Decide what a request is from its raw path and method (PROTOCOL.md §4: the
 * query string is already cut off by MHD). */
static void
route(struct imgsrv *srv, struct imgsrv_req *r, const char *url, const char *method)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const char *name = NULL;

	r->kind = REQ_OTHER;
	r->status = MHD_HTTP_NOT_FOUND;
	if (strncmp(url, OTA_PREFIX, strlen(OTA_PREFIX)) == 0) {
		name = url + strlen(OTA_PREFIX);
	} else if (strncmp(url, SLOWOTA_PREFIX, strlen(SLOWOTA_PREFIX)) == 0) {
		name = url + strlen(SLOWOTA_PREFIX);
		r->slow = true;
	} else if (srv->diy && strcmp(url, DIY_COMPLETION_PATH) == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
			r->kind = REQ_DIY;
			r->status = MHD_HTTP_OK;
		} else {
			r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		}
		return;
	} else if (srv->legacy && strcmp(url, DISPATCH_PATH) == 0) {
		if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
			r->kind = REQ_DISPATCH;
			r->status = MHD_HTTP_OK;
		} else {
			r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		}
		return;
	} else {
		return;
	}
	r->file = find_file(srv, name);
	if (!r->file) {
		r->slow = false;
		return;
	}
	if (!get && !head) {
		r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		return;
	}
	r->kind = REQ_FILE;
	r->head = head;
}

static int
add_headers(struct MHD_Response *resp, const char *const *kv)
{
	for (; kv[0]; kv += 2)
		if (MHD_add_response_header(resp, kv[0], kv[1]) != MHD_YES)
			return -ENOMEM;
	return 0;
}

/* Build the response for a file request; sets r's status, range and body mode. */
static struct MHD_Response *
file_response(struct imgsrv *srv, struct imgsrv_req *r, struct MHD_Connection *c)
{
	const struct imgsrv_file *f = r->file;
	struct MHD_Response *resp;
	char cr[80];
	enum range_result rr = RANGE_NONE;
	uint64_t off = 0, len = f->size;

	if (!r->slow) {
		const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_RANGE);
		rr = range_parse(hdr, f->size, &off, &len);
	}
	if (rr == RANGE_UNSATISFIABLE) {
		r->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
		r->len = 0;
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		snprintf(cr, sizeof(cr), "bytes */%zu", f->size);
		if (resp && (add_headers(resp, (const char *const[]){
				MHD_HTTP_HEADER_CONTENT_RANGE, cr,
				MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes", NULL}) < 0)) {
			MHD_destroy_response(resp);
			return NULL;
		}
		return resp;
	}

	r->status = rr == RANGE_OK ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK;
	r->off = off;
	r->len = len;
	if (!r->slow && !r->http10 && len <= srv->buffer_max) {
		/* Straight from the image in memory: MHD send()s from it directly, with
		 * no reader call and no copy, but also no way to see progress. E2A's
		 * HTTP/1.0 downloads take the reader instead: one download per device,
		 * whose progress the user watches on FinalStage. */
		r->buffered = true;
		resp = MHD_create_response_from_buffer((size_t)len, (void *)(f->data + off),
						       MHD_RESPMEM_PERSISTENT);
	} else {
		size_t block = r->slow ? IMGSRV_SLOW_BLOCK : srv->block_size;
		resp = MHD_create_response_from_callback(len, block, read_body, r, NULL);
	}
	if (!resp)
		return NULL;

	int e;
	if (r->slow) {
		/* SonOTA's SlowOTAUpdate headers, which mimic ITEAD's Express server
		 * (PROTOCOL.md §3.6), minus its empty "Transfer-Encoding:" header, which
		 * is malformed HTTP; MHD adds Content-Length. */
		char cd[EVQ_NAME_MAX + 40];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", f->name);
		e = add_headers(resp, (const char *const[]){
			"X-Powered-By", "Express",
			MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd,
			MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes",
			MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=0",
			MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream", NULL});
	} else {
		e = add_headers(resp, (const char *const[]){
			MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes",
			MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream", NULL});
		if (!e && rr == RANGE_OK) {
			snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%zu", off,
				 off + len - 1, f->size);
			e = add_headers(resp, (const char *const[]){
				MHD_HTTP_HEADER_CONTENT_RANGE, cr, NULL});
		}
	}
	if (e) {
		MHD_destroy_response(resp);
		return NULL;
	}
	return resp;
}

/* The request is fully received: answer it. */
static enum MHD_Result
answer(struct imgsrv *srv, struct imgsrv_req *r, struct MHD_Connection *c)
{
	struct MHD_Response *resp = NULL, *shared = NULL;
	enum MHD_Result ret;
	bool diy_valid = false;
	int diy_error = 0;

	switch (r->kind) {
	case REQ_FILE:
		resp = file_response(srv, r, c);
		if (!resp) {
			r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			push_event(srv, r, EVQ_HTTP_REQUEST, 0, false);
			return MHD_NO; /* MHD closes the connection */
		}
		break;
	case REQ_DISPATCH:
		shared = srv->rdispatch;
		break;
	case REQ_DIY:
		/* DIY-PROTOCOL.md §5.5: the device reports its flash result here. Only a
		 * body that decodes counts; the event carries its "error". */
		if (diy_parse_completion(r->diy_body, r->body_seen, &diy_error) == 0) {
			diy_valid = true;
			shared = srv->rdiy_ok;
		} else {
			r->status = MHD_HTTP_BAD_REQUEST;
			shared = srv->r400;
		}
		break;
	case REQ_OTHER:
	default:
		if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
			shared = r->file ? srv->r405_file : srv->r405_post;
		else if (r->status == MHD_HTTP_CONTENT_TOO_LARGE)
			shared = srv->r413;
		else if (r->status == MHD_HTTP_URI_TOO_LONG)
			shared = srv->r414;
		else if (r->status == MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE)
			shared = srv->r431;
		else
			shared = srv->r404;
		break;
	}
	r->prog_ms = util_mono_ms();
	if (r->kind == REQ_DIY) {
		struct evq_event ev;

		make_event(srv, r, EVQ_HTTP_DIY_COMPLETION, 0, false, &ev);
		ev.diy_valid = diy_valid;
		ev.diy_error = diy_error;
		(void)evq_push(srv->evq, &ev);
	} else {
		push_event(srv, r, r->kind == REQ_DISPATCH ? EVQ_HTTP_DISPATCH : EVQ_HTTP_REQUEST,
			   0, false);
	}
	if (shared)
		return MHD_queue_response(c, (unsigned)r->status, shared);
	ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp); /* MHD keeps its own reference */
	return ret;
}

/* Does the request announce a body larger than any we accept? */
static bool
body_too_large(struct MHD_Connection *c, uint64_t max)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;

	return cl && util_parse_u64(cl, 0, max, &n) == -ERANGE;
}

/* MHD calls this with the request target as it arrived (NUL-terminated, inside the
 * connection's read buffer, which MHD itself rewrites), before it splits the query
 * string into one pool record per argument. A target over IMGSRV_URI_MAX, or a query
 * of more than IMGSRV_QUERY_ARGS_MAX arguments, is refused here: the query is cut
 * right after its '?', so that MHD records no argument at all, and the returned
 * marker, which MHD passes to on_request() as *req_cls, makes the answer 414.
 * Without the cut MHD 0.9.75 answers nothing once the arguments overflow the pool:
 * it queues a 431, then overwrites that state and waits for a line that never
 * comes (issue 9: 400 arguments hung the connection). We never use the query
 * (PROTOCOL.md §4), so cutting it loses nothing. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct imgsrv *srv = cls;
	char *q = uri ? strchr(uri, '?') : NULL;
	size_t nargs = 0;

	(void)c;
	if (!uri)
		return NULL;
	if (q) /* an upper bound: MHD makes a record per '&'-separated piece */
		for (const char *p = q; *p; p++)
			nargs += *p == '?' || *p == '&';
	if (strlen(uri) <= IMGSRV_URI_MAX && nargs <= IMGSRV_QUERY_ARGS_MAX)
		return NULL;
	if (q)
		q[1] = '\0';
	return &srv->uri_refused;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size,
	   void **req_cls)
{
	struct imgsrv *srv = cls;
	struct imgsrv_req *r = *req_cls;
	bool uri_refused = *req_cls == (void *)&srv->uri_refused;

	if (!r || uri_refused) {
		/* First call: headers only. Answer on the next call, once any body has
		 * been read (MHD's documented pattern). */
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = srv;
		r->conn = c;
		r->http10 = version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
		peer_name(c, r->peer, sizeof(r->peer));
		route(srv, r, url, method);
		*req_cls = r;
		/* Refuse before reading any body: 414 and 431 close the connection
		 * (their response says so), and after a 413 MHD closes it, as the body
		 * was not read. */
		if (uri_refused)
			r->status = MHD_HTTP_URI_TOO_LONG;
		else if (MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL) >
			 IMGSRV_HEADERS_MAX)
			r->status = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
		else if (body_too_large(c, r->kind == REQ_DIY ? IMGSRV_DIY_BODY_MAX
							     : IMGSRV_DISPATCH_BODY_MAX))
			r->status = MHD_HTTP_CONTENT_TOO_LARGE;
		else
			return MHD_YES;
		r->kind = REQ_OTHER;
		return answer(srv, r, c);
	}
	if (*upload_data_size) {
		/* Only the legacy dispatch POST has a body, and it is ignored (as SonOTA
		 * does, §3.1); anything larger than a dispatch request is refused. */
		if (r->kind == REQ_DIY) {
			/* The completion body is kept (bounded) to be parsed. */
			if (*upload_data_size > IMGSRV_DIY_BODY_MAX - r->body_seen)
				return MHD_NO;
			memcpy(r->diy_body + r->body_seen, upload_data, *upload_data_size);
		}
		r->body_seen += *upload_data_size;
		*upload_data_size = 0;
		if (r->body_seen > IMGSRV_DISPATCH_BODY_MAX)
			return MHD_NO;
		return MHD_YES;
	}
	return answer(srv, r, c);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct imgsrv *srv = cls;
	struct imgsrv_req *r = *req_cls;
	bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
	uint64_t sent;

	if (!r)
		return;
	*req_cls = NULL;
	if ((void *)r == (void *)&srv->uri_refused)
		return; /* refused in on_uri(), never reached on_request() */
	if (r->slow) {
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
	if (r->kind != REQ_FILE || r->head)
		sent = 0;
	else if (r->buffered)
		sent = ok ? r->len : 0; /* MHD does not say how much of a buffer went out */
	else
		sent = ok ? r->produced : r->handed;
	bool complete = ok && r->kind == REQ_FILE && !r->head &&
			(r->status == MHD_HTTP_OK || r->status == MHD_HTTP_PARTIAL_CONTENT) &&
			sent == r->len;
	/* A whole file handed to the kernel is not yet a whole file received: with an
	 * ackwatch, its completion waits for the peer's TCP acknowledgements
	 * (ackwatch.h). MHD closes its descriptor after this; the dup keeps the
	 * socket for the watcher. */
	const union MHD_ConnectionInfo *ci;
	if (complete && r->status == MHD_HTTP_OK && srv->ackwatch &&
	    (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD))) {
		int fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
		struct evq_event ev;
		make_event(srv, r, EVQ_HTTP_DONE, sent, fd >= 0, &ev);
		if (fd >= 0)
			ackwatch_add(srv->ackwatch, fd, &ev);
		else
			(void)evq_push(srv->evq, &ev);
	} else {
		push_event(srv, r, EVQ_HTTP_DONE, sent, complete);
	}
	free(r);
}

/* MHD's external logger: into log_mhd(), at most IMGSRV_LOG_BURST messages per
 * IMGSRV_LOG_WINDOW_MS, then one line saying how many were dropped. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct imgsrv *srv = cls;
	uint64_t now = util_mono_ms();
	unsigned long dropped = 0;
	bool emit;

	pthread_mutex_lock(&srv->log_lock);
	if (now - srv->log_window_ms >= IMGSRV_LOG_WINDOW_MS) {
		dropped = srv->log_suppressed;
		srv->log_window_ms = now;
		srv->log_count = 0;
		srv->log_suppressed = 0;
	}
	emit = srv->log_count < IMGSRV_LOG_BURST;
	if (emit)
		srv->log_count++;
	else
		srv->log_suppressed++;
	pthread_mutex_unlock(&srv->log_lock);
	if (!srv->log)
		return;
	if (dropped)
		log_printf(srv->log, LOG_WARN, "mhd: %lu more messages suppressed", dropped);
	if (emit)
		log_mhd(srv->log, fmt, ap);
}

/* MHD would decode %HH in the path before routing; keep the raw path instead, so
 * that an encoded name or "%2e%2e" can never match a served file. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static bool
valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= EVQ_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int
check_opts(const struct imgsrv_opts *o, char *err, size_t errlen)
{
	if (!o->evq) {
		snprintf(err, errlen, "image server: no event queue");
		return -EINVAL;
	}
	if (o->nfiles == 0 || o->nfiles > IMGSRV_FILES_MAX || !o->files) {
		snprintf(err, errlen, "image server: %zu files (1 to %d)", o->nfiles,
			 IMGSRV_FILES_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nfiles; i++) {
		const struct imgsrv_file *f = &o->files[i];
		if (!valid_name(f->name) || strcmp(f->name, ".") == 0 ||
		    strcmp(f->name, "..") == 0) {
			snprintf(err, errlen, "image server: bad file name \"%s\"",
				 f->name ? f->name : "(null)");
			return -EINVAL;
		}
		if (!f->data || f->size == 0) {
			snprintf(err, errlen, "image server: file \"%s\" is empty", f->name);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->files[j].name, f->name) == 0) {
				snprintf(err, errlen, "image server: file \"%s\" given twice",
					 f->name);
				return -EINVAL;
			}
	}
	if (o->max_clients > IMGSRV_CLIENTS_MAX) {
		snprintf(err, errlen, "image server: %u clients (at most %d)", o->max_clients,
			 IMGSRV_CLIENTS_MAX);
		return -EINVAL;
	}
	if (o->legacy_dispatch) {
		struct in_addr a;
		if (!o->dispatch_ip || inet_pton(AF_INET, o->dispatch_ip, &a) != 1 ||
		    o->dispatch_port == 0) {
			snprintf(err, errlen, "image server: legacy dispatch needs an IPv4 address "
				 "and a port, got \"%s\" port %u",
				 o->dispatch_ip ? o->dispatch_ip : "(none)", o->dispatch_port);
			return -EINVAL;
		}
	}
	return 0;
}

/* Create, bind and listen on the socket ourselves, so that the caller learns why
 * binding failed (MHD would only say that it did). */
static int
listen_socket(const struct imgsrv_opts *o, unsigned backlog, int *ret_fd, int *ret_family,
	      uint16_t *ret_port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = -1, one = 1, r;
	const char *addr = o->bind_addr ? o->bind_addr : "0.0.0.0";
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "image server: bad bind address \"%s\"", addr);
		return -EINVAL;
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "image server: socket: %s", strerror(-r));
		return r;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		r = -errno;
		snprintf(err, errlen, "image server: setsockopt: %s", strerror(-r));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		r = -errno;
		if (r == -EADDRINUSE)
			snprintf(err, errlen, "port %u is busy (another program listens on it)",
				 o->port);
		else if (r == -EACCES)
			snprintf(err, errlen, "port %u is privileged: run as root, or grant "
				 "CAP_NET_BIND_SERVICE", o->port);
		else if (r == -EADDRNOTAVAIL)
			snprintf(err, errlen, "port %u: address \"%s\" is not on this host",
				 o->port, addr);
		else
			snprintf(err, errlen, "port %u: bind: %s", o->port, strerror(-r));
		goto fail;
	}
	if (listen(fd, (int)backlog) < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: listen: %s", o->port, strerror(-r));
		goto fail;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: getsockname: %s", o->port, strerror(-r));
		goto fail;
	}
	*ret_port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	*ret_family = ss.ss_family;
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

/* MHD closes the listening socket it was given on some of its start-up failure
 * paths and not on others (measured with 0.9.75: a flag conflict leaves it open, a
 * failed thread pool closes it). It gets a duplicate; after a failure, close that
 * duplicate only if the number still names our socket and not a file another
 * thread opened since. */
static void
close_if_same(int dupfd, int fd)
{
	struct stat a, b;

	if (fstat(dupfd, &b) == 0 && fstat(fd, &a) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		close(dupfd);
}

static struct MHD_Response *
text_response(const char *body, const char *type, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return NULL;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(resp);
		return NULL;
	}
	return resp;
}

int
imgsrv_start(const struct imgsrv_opts *o, struct imgsrv **ret, char *err, size_t errlen)
{
	struct imgsrv *srv = NULL;
	pthread_condattr_t ca;
	int fd = -1, family = AF_INET, r;
	uint16_t port = 0;
	const struct imgsrv_limits *l = &o->limits;

	r = check_opts(o, err, errlen);
	if (r < 0)
		return r;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "image server: out of memory");
		return -ENOMEM;
	}
	memcpy(srv->files, o->files, o->nfiles * sizeof(*o->files));
	srv->nfiles = o->nfiles;
	srv->legacy = o->legacy_dispatch;
	srv->diy = o->diy_completion;
	srv->evq = o->evq;
	srv->ackwatch = o->ackwatch;
	srv->log = o->log;
	srv->block_size = l->block_size ? l->block_size : IMGSRV_BLOCK_SIZE;
	/* The connection limit follows the number of devices (imgsrv.h). With a thread
	 * pool MHD splits it between the threads, and a thread at its share stops
	 * accepting, so the other takes the next connection: the sum still holds. The
	 * listen backlog is as deep, so a burst of every device at once waits in the
	 * kernel instead of being dropped (the kernel caps it at somaxconn). */
	unsigned clients = o->max_clients ? o->max_clients : IMGSRV_CLIENTS_DEFAULT;
	unsigned conn_max = l->conn_max ? l->conn_max
					: clients * IMGSRV_CONNS_PER_CLIENT + IMGSRV_CONN_HEADROOM;
	srv->buffer_max = l->buffer_max ? l->buffer_max : IMGSRV_BUFFER_MAX;

	/* The port first: the likeliest failure, reported before any thread exists. */
	r = listen_socket(o, conn_max, &fd, &family, &port, err, errlen);
	if (r < 0)
		goto fail;
	srv->port = port;

	r = -ENOMEM;
	snprintf(err, errlen, "image server: out of memory");
	srv->r404 = text_response("Not Found\n", "text/plain", NULL);
	srv->r405_file = text_response("Method Not Allowed\n", "text/plain", "GET, HEAD");
	srv->r405_post = text_response("Method Not Allowed\n", "text/plain", "POST");
	srv->r413 = text_response("Content Too Large\n", "text/plain", NULL);
	srv->r414 = text_response("URI Too Long\n", "text/plain", NULL);
	srv->r431 = text_response("Request Header Fields Too Large\n", "text/plain", NULL);
	if (!srv->r404 || !srv->r405_file || !srv->r405_post || !srv->r413 || !srv->r414 ||
	    !srv->r431 ||
	    MHD_add_response_header(srv->r414, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES ||
	    MHD_add_response_header(srv->r431, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
		goto fail;
	if (srv->diy) {
		srv->rdiy_ok = text_response("{\"error\":0}", "application/json", NULL);
		srv->r400 = text_response("Bad Request\n", "text/plain", NULL);
		if (!srv->rdiy_ok || !srv->r400)
			goto fail;
	}
	if (srv->legacy) {
		/* PROTOCOL.md §3.1; the values were validated in check_opts(). */
		srv->dispatch_json = proto_build_dispatch_reply(o->dispatch_ip, o->dispatch_port);
		if (!srv->dispatch_json)
			goto fail;
		srv->rdispatch = text_response(srv->dispatch_json, "application/json", NULL);
		if (!srv->rdispatch)
			goto fail;
	}

	r = -pthread_mutex_init(&srv->lock, NULL);
	if (r < 0)
		goto fail_text;
	srv->lock_ok = true;
	r = -pthread_mutex_init(&srv->log_lock, NULL);
	if (r < 0)
		goto fail_text;
	srv->log_lock_ok = true;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = -pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r < 0)
		goto fail_text;
	srv->cond_ok = true;
	r = -pthread_create(&srv->pacer, NULL, pacer_main, srv);
	if (r < 0)
		goto fail_text;
	srv->pacer_ok = true;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME;
	if (o->log)
		flags |= MHD_USE_ERROR_LOG;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned threads = l->threads ? l->threads : IMGSRV_THREADS;
	int mfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mfd < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: dup: %s", port, strerror(-r));
		goto fail;
	}
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, /* first, or MHD logs to stderr */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_CONNECTION_LIMIT, conn_max, /* and no per-address limit */
		MHD_OPTION_CONNECTION_TIMEOUT, l->timeout_s ? l->timeout_s : IMGSRV_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		l->conn_memory ? l->conn_memory : (size_t)IMGSRV_CONN_MEMORY,
		threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
		MHD_OPTION_END);
	if (!srv->mhd) {
		close_if_same(mfd, fd);
		r = -EIO;
		snprintf(err, errlen, "port %u: libmicrohttpd failed to start", port);
		goto fail;
	}
	close(fd); /* MHD owns mfd now */
	*ret = srv;
	return 0;

fail_text:
	snprintf(err, errlen, "image server: %s", strerror(-r));
fail:
	if (fd >= 0)
		close(fd);
	imgsrv_stop(srv);
	return r;
}

uint16_t
imgsrv_bound_port(const struct imgsrv *srv)
{
	return srv ? srv->port : 0;
}

void
imgsrv_stop(struct imgsrv *srv)
{
	if (!srv)
		return;
	/* MHD must not be stopped with suspended connections: resume them all, and
	 * make their readers fail so they end (DONE with complete=false). */
	if (srv->lock_ok) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		while (srv->paced) {
			struct imgsrv_req *r = srv->paced;
			srv->paced = r->next;
			r->next = NULL;
			r->suspended = false;
			MHD_resume_connection(r->conn);
		}
		srv->pacer_quit = true;
		if (srv->cond_ok)
			pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
	}
	if (srv->pacer_ok)
		pthread_join(srv->pacer, NULL);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd); /* closes the listening socket too */
	if (srv->log_suppressed && srv->log)
		log_printf(srv->log, LOG_WARN, "mhd: %lu more messages suppressed",
			   srv->log_suppressed);
	if (srv->cond_ok)
		pthread_cond_destroy(&srv->cond);
	if (srv->log_lock_ok)
		pthread_mutex_destroy(&srv->log_lock);
	if (srv->lock_ok)
		pthread_mutex_destroy(&srv->lock);
	if (srv->rdispatch)
		MHD_destroy_response(srv->rdispatch);
	if (srv->rdiy_ok)
		MHD_destroy_response(srv->rdiy_ok);
	if (srv->r400)
		MHD_destroy_response(srv->r400);
	free(srv->dispatch_json);
	if (srv->r431)
		MHD_destroy_response(srv->r431);
	if (srv->r414)
		MHD_destroy_response(srv->r414);
	if (srv->r413)
		MHD_destroy_response(srv->r413);
	if (srv->r405_post)
		MHD_destroy_response(srv->r405_post);
	if (srv->r405_file)
		MHD_destroy_response(srv->r405_file);
	if (srv->r404)
		MHD_destroy_response(srv->r404);
	free(srv);
}
