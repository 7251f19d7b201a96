/* imgsrv, one request: routing by raw path and method, the answers (files with
 * Range, dispatch, DIY completion, shared error responses), the request limits, and
 * the opening and closing events. See imgsrv.h for the contract, imgsrvint.h for
 * the layout. Runs on MHD's threads. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "ackwatch.h"
#include "diy.h"
#include "imgsrvint.h"
#include "range.h"
#include "util.h"

#define IMGSRV_SLOW_BLOCK 4096       /* reader buffer of a paced transfer (>= SLOW_CHUNK) */

#define OTA_PREFIX "/ota/"
#define SLOWOTA_PREFIX "/slowota/"
#define DISPATCH_PATH "/dispatch/device"
#define DIY_COMPLETION_PATH "/api/device/otaFlash"

void
imgsrv_make_event(const struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type,
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

void
imgsrv_push_event(struct imgsrv *srv, const struct imgsrv_req *r, enum evq_type type,
		  uint64_t sent, bool complete)
{
	struct evq_event ev;
	imgsrv_make_event(srv, r, type, sent, complete, &ev);
	/* A dropped progress event (-ENOBUFS) is counted by the queue; a failed
	 * allocation cannot be reported from here without logging per request. */
	(void)evq_push(srv->evq, &ev);
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
		resp = MHD_create_response_from_callback(len, block, imgsrv_read_body, r, NULL);
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
			imgsrv_push_event(srv, r, EVQ_HTTP_REQUEST, 0, false);
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

		imgsrv_make_event(srv, r, EVQ_HTTP_DIY_COMPLETION, 0, false, &ev);
		ev.diy_valid = diy_valid;
		ev.diy_error = diy_error;
		(void)evq_push(srv->evq, &ev);
	} else {
		imgsrv_push_event(srv, r, r->kind == REQ_DISPATCH ? EVQ_HTTP_DISPATCH : EVQ_HTTP_REQUEST,
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
 * marker, which MHD passes to imgsrv_on_request() as *req_cls, makes the answer 414.
 * Without the cut MHD 0.9.75 answers nothing once the arguments overflow the pool:
 * it queues a 431, then overwrites that state and waits for a line that never
 * comes (issue 9: 400 arguments hung the connection). We never use the query
 * (PROTOCOL.md §4), so cutting it loses nothing. */
void *
imgsrv_on_uri(void *cls, const char *uri, struct MHD_Connection *c)
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

enum MHD_Result
imgsrv_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
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

void
imgsrv_on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
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
		return; /* refused in imgsrv_on_uri(), never reached imgsrv_on_request() */
	if (r->slow)
		imgsrv_pacer_forget(srv, r);
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
	/* issue 11: on a DIY server, the range that ends the file too (the device's last
	 * 4 KB chunk decides whether every byte arrived) */
	bool last_range = srv->diy && r->status == MHD_HTTP_PARTIAL_CONTENT && r->file &&
			  r->off + r->len == r->file->size;
	if (complete && (r->status == MHD_HTTP_OK || last_range) && srv->ackwatch &&
	    (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD))) {
		int fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
		struct evq_event ev;
		imgsrv_make_event(srv, r, EVQ_HTTP_DONE, sent, fd >= 0, &ev);
		if (fd >= 0)
			ackwatch_add(srv->ackwatch, fd, &ev);
		else
			(void)evq_push(srv->evq, &ev);
	} else {
		imgsrv_push_event(srv, r, EVQ_HTTP_DONE, sent, complete);
	}
	free(r);
}
