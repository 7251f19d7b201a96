/* http: tiny strict HTTP/1.x head parsers (pure: no I/O, no logging). */
#ifndef DEVSIM_HTTP_H
#define DEVSIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX 8192		/* longest response/request head we accept */
#define HTTP_VALUE_MAX 128		/* longest header value we keep */

struct http_resp {
	int minor;			/* HTTP/1.<minor> */
	int status;
	long long content_length;	/* -1: absent */
	bool te_present;		/* a Transfer-Encoding header exists (maybe empty) */
	bool te_chunked;		/* ... and names "chunked" */
	bool has_range;			/* Content-Range present and well-formed */
	long long range_first, range_last, range_total;
	bool conn_close;		/* Connection: close */
	char upgrade[HTTP_VALUE_MAX];	/* Upgrade */
	char connection[HTTP_VALUE_MAX];/* Connection */
	char ws_accept[HTTP_VALUE_MAX];	/* Sec-WebSocket-Accept */
	bool ws_protocol;		/* Sec-WebSocket-Protocol present */
	bool ws_extensions;		/* Sec-WebSocket-Extensions present */
};

struct http_req {
	char method[16];
	char path[256];
	int minor;			/* HTTP/1.<minor>; -1 for HTTP/0.9 or others */
	long long content_length;	/* -1: absent */
	bool te_present;
	bool expect;			/* an Expect header */
};

/* Parse a response head (status line + headers + CRLFCRLF, len bytes). Strict: CRLF line
 * ends, no obsolete folding, one Content-Length of digits only, a Content-Range (if
 * present) must be "bytes a-b/total" with a <= b < total. -EBADMSG with err. */
int http_parse_response(const char *head, size_t len, struct http_resp *ret, char *err,
			size_t errlen);
/* Parse a request head. -EBADMSG with err. */
int http_parse_request(const char *head, size_t len, struct http_req *ret, char *err,
		       size_t errlen);
/* true if the comma-separated header value contains token (case-insensitive). */
bool http_has_token(const char *value, const char *token);

#endif
