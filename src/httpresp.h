/* httpresp: a strict, tiny HTTP/1.x response parser over a byte buffer (pure).
 *
 * Used by provision for the replies of the device's pairing HTTP server, which it
 * reads over a raw TCP connection. No I/O, no logging, no allocation: every
 * verdict comes back as a return code plus an optional err text, so the whole
 * module can be fed arbitrary bytes by tests and fuzzers.
 *
 * Grammar accepted (RFC 9112 §2-§7, strict where the RFC lets a recipient be):
 *   status-line  = "HTTP/1." ("0" / "1") SP 3DIGIT [ SP reason ] EOL
 *   header-line  = token ":" OWS value OWS EOL        ; no space before ":"
 *   EOL          = CRLF / LF                          ; a bare CR is malformed
 * obs-fold (a line starting with SP/HTAB), control characters, an invalid or
 * conflicting Content-Length, Transfer-Encoding without a final "chunked" and
 * Transfer-Encoding together with Content-Length are all rejected.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPRESP_HEAD_MAX 8192   /* status line + headers + blank line; a small
				  * embedded server sends a few hundred bytes */
#define HTTPRESP_LINE_MAX 1024   /* one status or header line, EOL excluded */
#define HTTPRESP_HEADERS_MAX 32  /* header lines; the device sends about five */
#define HTTPRESP_CHUNKS_MAX 64   /* chunks of one chunked body */
#define HTTPRESP_CTYPE_MAX 64    /* a longer Content-Type value is cut (ctype_cut) */

/* How the body of a response is delimited (RFC 9112 §6.3). */
enum httpresp_framing {
	HTTPRESP_FRAMING_NONE,    /* 1xx, 204, 304: no body at all */
	HTTPRESP_FRAMING_LENGTH,  /* Content-Length bytes */
	HTTPRESP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
	HTTPRESP_FRAMING_CLOSE,   /* everything until the server closes the connection */
};

struct httpresp {
	unsigned version_minor;           /* 0 or 1: HTTP/1.0 or HTTP/1.1 */
	unsigned status;                  /* 100..599 */
	size_t header_len;                /* bytes up to and including the blank line */
	unsigned nheaders;                /* header lines seen */
	enum httpresp_framing framing;    /* how the body ends */
	uint64_t content_length;          /* FRAMING_LENGTH only, else 0 */
	bool connection_close;            /* "Connection: close" was sent */
	char content_type[HTTPRESP_CTYPE_MAX]; /* value of Content-Type, "" if absent */
	bool ctype_cut;                   /* content_type was longer and got cut */
};

/* Parse the head (status line and headers) at the start of buf[0, len).
 * Returns 0 and fills *ret when the blank line ending the head is in the buffer
 * (the body, if any, starts at ret->header_len); -EAGAIN when more bytes are
 * needed; -EINVAL when the bytes seen so far are malformed; -EMSGSIZE when a
 * named limit above is exceeded. err (may be NULL) gets a reason on failure.
 * *ret is written only on success. */
int httpresp_parse(const void *buf, size_t len, struct httpresp *ret, char *err, size_t errlen);

/* Extract the complete body of the response whose head h was parsed from buf:
 * buf[0, len) holds the head followed by the body bytes received so far; eof
 * says the server has closed the connection. Decodes a chunked body (chunk
 * extensions and trailer lines are accepted and dropped). Copies the body into
 * out and NUL-terminates it, so out must hold body + 1 bytes.
 * Bytes after the end of a Content-Length or chunked body are ignored: we never
 * pipeline and close the connection after one response.
 * Returns 0 and sets *ret_len (body bytes, NUL excluded) on success; -EAGAIN
 * when the body is incomplete and !eof; -EINVAL when it is malformed or still
 * incomplete at eof; -EMSGSIZE when it does not fit in out or a limit is
 * exceeded. err (may be NULL) gets a reason on failure. */
int httpresp_body(const void *buf, size_t len, bool eof, const struct httpresp *h, char *out,
		  size_t outmax, size_t *ret_len, char *err, size_t errlen);
