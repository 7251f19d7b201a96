/* httpresp: see httpresp.h.
 *
 * The head is checked line by line as each line completes; an incomplete last
 * line means "need more bytes" unless it already breaks a limit. Only the
 * status-line prefix is checked before its line is complete, so that a peer
 * that does not speak HTTP at all is caught with its first bytes.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "httpresp.h"

static const char status_prefix[] = "HTTP/1.";

static int
fail(int r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* RFC 9110 §5.6.2 tchar */
static bool
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / reason-phrase characters plus SP and HTAB (obs-text allowed) */
static bool
is_text(unsigned char c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Find the next line in b[pos, len). On 0, [*ret_start, *ret_end) is the line
 * without its EOL and *ret_next the offset after the EOL. -EAGAIN when no EOL
 * yet, -EINVAL on a bare CR, -EMSGSIZE when the line exceeds HTTPRESP_LINE_MAX. */
static int
next_line(const unsigned char *b, size_t len, size_t pos, size_t *ret_start, size_t *ret_end,
	  size_t *ret_next, char *err, size_t errlen)
{
	size_t i;

	for (i = pos; i < len; i++) {
		if (i - pos > HTTPRESP_LINE_MAX + 1)
			return fail(-EMSGSIZE, err, errlen, "line longer than %d bytes",
				    HTTPRESP_LINE_MAX);
		if (b[i] == '\n') {
			size_t end = i;

			if (end > pos && b[end - 1] == '\r')
				end--;
			if (end - pos > HTTPRESP_LINE_MAX)
				return fail(-EMSGSIZE, err, errlen, "line longer than %d bytes",
					    HTTPRESP_LINE_MAX);
			*ret_start = pos;
			*ret_end = end;
			*ret_next = i + 1;
			return 0;
		}
		if (b[i] == '\r' && i + 1 < len && b[i + 1] != '\n')
			return fail(-EINVAL, err, errlen, "bare CR at offset %zu", i);
	}
	if (len - pos > HTTPRESP_LINE_MAX + 1)
		return fail(-EMSGSIZE, err, errlen, "line longer than %d bytes", HTTPRESP_LINE_MAX);
	return -EAGAIN;
}

static int
parse_status_line(const unsigned char *s, size_t n, struct httpresp *h, char *err, size_t errlen)
{
	const size_t plen = sizeof(status_prefix) - 1;
	size_t i;

	/* "HTTP/1.x SSS" is 12 bytes */
	if (n < plen + 5 || memcmp(s, status_prefix, plen) != 0)
		return fail(-EINVAL, err, errlen, "not an HTTP/1.x status line");
	if (s[plen] != '0' && s[plen] != '1')
		return fail(-EINVAL, err, errlen, "unsupported HTTP version 1.%c", s[plen]);
	h->version_minor = (unsigned)(s[plen] - '0');
	if (s[plen + 1] != ' ')
		return fail(-EINVAL, err, errlen, "no space after the HTTP version");
	i = plen + 2;
	if (n < i + 3 || s[i] < '1' || s[i] > '5' || s[i + 1] < '0' || s[i + 1] > '9' ||
	    s[i + 2] < '0' || s[i + 2] > '9')
		return fail(-EINVAL, err, errlen, "status code is not 100..599");
	h->status = (unsigned)((s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0'));
	i += 3;
	if (i == n)
		return 0; /* no reason phrase, not even its SP: tolerated (RFC 9112 §4) */
	if (s[i] != ' ')
		return fail(-EINVAL, err, errlen, "no space after the status code");
	for (i++; i < n; i++)
		if (!is_text(s[i]))
			return fail(-EINVAL, err, errlen, "control character in the reason phrase");
	return 0;
}

/* Parse a Content-Length value: 1*DIGIT, no sign, no list. */
static int
parse_content_length(const unsigned char *v, size_t n, uint64_t *ret)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*ret = x;
	return 0;
}

static bool
token_eq(const unsigned char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp((const char *)s, word, n) == 0;
}

/* Header-parsing state that does not end up in struct httpresp. */
struct head_state {
	bool have_cl;     /* a Content-Length was seen */
	bool te_seen;     /* a Transfer-Encoding was seen */
	bool te_bad;      /* a coding other than one final "chunked" */
	bool te_last_chunked; /* the last coding seen so far is "chunked" */
};

/* Walk a comma-separated list value; calls back with each trimmed, non-empty
 * element (parameters after ';' cut off). */
static void
for_each_element(const unsigned char *v, size_t n,
		 void (*fn)(const unsigned char *e, size_t en, void *arg), void *arg)
{
	size_t i = 0;

	while (i <= n) {
		size_t s = i, e;

		while (i < n && v[i] != ',')
			i++;
		e = i;
		for (size_t k = s; k < e; k++)
			if (v[k] == ';') {
				e = k;
				break;
			}
		while (s < e && is_ows(v[s]))
			s++;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (e > s)
			fn(v + s, e - s, arg);
		i++; /* skip the comma (or step past the end) */
	}
}

static void
te_element(const unsigned char *e, size_t en, void *arg)
{
	struct head_state *st = arg;

	if (st->te_last_chunked) /* anything after "chunked" */
		st->te_bad = true;
	if (token_eq(e, en, "chunked"))
		st->te_last_chunked = true;
	else
		st->te_bad = true; /* we decode no other coding */
}

static void
conn_element(const unsigned char *e, size_t en, void *arg)
{
	struct httpresp *h = arg;

	if (token_eq(e, en, "close"))
		h->connection_close = true;
}

static int
parse_header_line(const unsigned char *s, size_t n, struct httpresp *h, struct head_state *st,
		  char *err, size_t errlen)
{
	const unsigned char *v;
	size_t i, name_len, vs, ve;

	if (is_ows(s[0]))
		return fail(-EINVAL, err, errlen, "obsolete line folding");
	for (i = 0; i < n && s[i] != ':'; i++)
		if (!is_tchar(s[i]))
			return fail(-EINVAL, err, errlen, "invalid character in a header name");
	if (i == n)
		return fail(-EINVAL, err, errlen, "header line without ':'");
	if (i == 0)
		return fail(-EINVAL, err, errlen, "empty header name");
	name_len = i;
	for (vs = i + 1; vs < n && is_ows(s[vs]); vs++)
		;
	for (ve = n; ve > vs && is_ows(s[ve - 1]); ve--)
		;
	for (i = vs; i < ve; i++)
		if (!is_text(s[i]))
			return fail(-EINVAL, err, errlen, "control character in header \"%.*s\"",
				    (int)name_len, (const char *)s);
	v = s + vs;

	if (token_eq(s, name_len, "content-length")) {
		uint64_t cl;

		if (parse_content_length(v, ve - vs, &cl) < 0)
			return fail(-EINVAL, err, errlen, "invalid Content-Length");
		if (st->have_cl && cl != h->content_length)
			return fail(-EINVAL, err, errlen, "conflicting Content-Length values");
		st->have_cl = true;
		h->content_length = cl;
	} else if (token_eq(s, name_len, "transfer-encoding")) {
		st->te_seen = true;
		for_each_element(v, ve - vs, te_element, st);
	} else if (token_eq(s, name_len, "connection")) {
		for_each_element(v, ve - vs, conn_element, h);
	} else if (token_eq(s, name_len, "content-type")) {
		size_t cn = ve - vs;

		h->ctype_cut = cn > sizeof(h->content_type) - 1;
		if (h->ctype_cut)
			cn = sizeof(h->content_type) - 1;
		memcpy(h->content_type, v, cn);
		h->content_type[cn] = '\0';
	}
	return 0;
}

int
httpresp_parse(const void *buf, size_t len, struct httpresp *ret, char *err, size_t errlen)
{
	const unsigned char *b = buf;
	const size_t plen = sizeof(status_prefix) - 1;
	struct head_state st = { 0 };
	struct httpresp h = { 0 };
	size_t pos = 0, ls, le;
	bool first = true;
	int r;

	if (!b && len)
		return fail(-EINVAL, err, errlen, "no buffer");
	/* catch a peer that does not speak HTTP/1.x before its line completes */
	if (memcmp(b ? (const void *)b : "", status_prefix, len < plen ? len : plen) != 0)
		return fail(-EINVAL, err, errlen, "not an HTTP/1.x status line");

	for (;;) {
		r = next_line(b, len, pos, &ls, &le, &pos, err, errlen);
		if (r == -EAGAIN && len > HTTPRESP_HEAD_MAX)
			return fail(-EMSGSIZE, err, errlen, "head longer than %d bytes",
				    HTTPRESP_HEAD_MAX);
		if (r < 0)
			return r;
		if (pos > HTTPRESP_HEAD_MAX)
			return fail(-EMSGSIZE, err, errlen, "head longer than %d bytes",
				    HTTPRESP_HEAD_MAX);
		if (first) {
			r = parse_status_line(b + ls, le - ls, &h, err, errlen);
			if (r < 0)
				return r;
			first = false;
			continue;
		}
		if (le == ls)
			break; /* the blank line: end of the head */
		if (++h.nheaders > HTTPRESP_HEADERS_MAX)
			return fail(-EMSGSIZE, err, errlen, "more than %d header lines",
				    HTTPRESP_HEADERS_MAX);
		r = parse_header_line(b + ls, le - ls, &h, &st, err, errlen);
		if (r < 0)
			return r;
	}
	h.header_len = pos;

	if (st.te_seen && (st.te_bad || !st.te_last_chunked))
		return fail(-EINVAL, err, errlen, "unsupported Transfer-Encoding");
	if (st.te_seen && st.have_cl)
		return fail(-EINVAL, err, errlen, "both Transfer-Encoding and Content-Length");

	/* RFC 9112 §6.3: these never have a body, whatever the headers say */
	if (h.status < 200 || h.status == 204 || h.status == 304) {
		h.framing = HTTPRESP_FRAMING_NONE;
		h.content_length = 0;
	} else if (st.te_seen) {
		h.framing = HTTPRESP_FRAMING_CHUNKED;
	} else if (st.have_cl) {
		h.framing = HTTPRESP_FRAMING_LENGTH;
	} else {
		h.framing = HTTPRESP_FRAMING_CLOSE;
	}
	*ret = h;
	return 0;
}

/* Decode a chunked body from b[pos, len) into out. Same returns as httpresp_body. */
static int
dechunk(const unsigned char *b, size_t len, size_t pos, bool eof, char *out, size_t outmax,
	size_t *ret_len, char *err, size_t errlen)
{
	size_t outlen = 0, ls, le, ntrailers = 0;
	unsigned nchunks = 0;
	int r;

	for (;;) {
		uint64_t size = 0;
		size_t i;

		r = next_line(b, len, pos, &ls, &le, &pos, err, errlen);
		if (r < 0)
			goto incomplete;
		if (++nchunks > HTTPRESP_CHUNKS_MAX)
			return fail(-EMSGSIZE, err, errlen, "more than %d chunks",
				    HTTPRESP_CHUNKS_MAX);
		/* outlen < outmax always holds, so the room is >= 1; a size that
		 * reaches the room can never fit, whatever digits follow */
		for (i = ls; i < le && hexval(b[i]) >= 0; i++) {
			if (size > (UINT64_MAX >> 4))
				return fail(-EMSGSIZE, err, errlen, "chunk size overflows");
			size = size * 16 + (uint64_t)hexval(b[i]);
			if (size >= outmax - outlen)
				return fail(-EMSGSIZE, err, errlen, "body larger than %zu bytes",
					    outmax - 1);
		}
		if (i == ls)
			return fail(-EINVAL, err, errlen, "invalid chunk size");
		while (i < le && is_ows(b[i]))
			i++;
		if (i < le && b[i] != ';')
			return fail(-EINVAL, err, errlen, "invalid chunk size");
		for (; i < le; i++)
			if (!is_text(b[i]))
				return fail(-EINVAL, err, errlen,
					    "control character in a chunk extension");
		if (size == 0)
			break;
		if (len - pos < size) {
			r = -EAGAIN;
			goto incomplete;
		}
		memcpy(out + outlen, b + pos, (size_t)size);
		outlen += (size_t)size;
		pos += (size_t)size;
		r = next_line(b, len, pos, &ls, &le, &pos, err, errlen);
		if (r < 0)
			goto incomplete;
		if (le != ls)
			return fail(-EINVAL, err, errlen, "chunk data longer than its size");
	}

	/* trailer section: header-like lines up to a blank line, dropped */
	for (;;) {
		r = next_line(b, len, pos, &ls, &le, &pos, err, errlen);
		if (r < 0)
			goto incomplete;
		if (le == ls)
			break;
		if (++ntrailers > HTTPRESP_HEADERS_MAX)
			return fail(-EMSGSIZE, err, errlen, "more than %d trailer lines",
				    HTTPRESP_HEADERS_MAX);
	}
	out[outlen] = '\0';
	*ret_len = outlen;
	return 0;

incomplete:
	if (r != -EAGAIN)
		return r;
	if (eof)
		return fail(-EINVAL, err, errlen, "connection closed inside a chunked body");
	return -EAGAIN;
}

int
httpresp_body(const void *buf, size_t len, bool eof, const struct httpresp *h, char *out,
	      size_t outmax, size_t *ret_len, char *err, size_t errlen)
{
	const unsigned char *b = buf;
	size_t avail;

	if (!h || h->header_len > len || (!b && len))
		return fail(-EINVAL, err, errlen, "head not parsed from this buffer");
	if (!out || outmax == 0)
		return fail(-EMSGSIZE, err, errlen, "no room for the body");
	avail = len - h->header_len;

	switch (h->framing) {
	case HTTPRESP_FRAMING_NONE:
		out[0] = '\0';
		*ret_len = 0;
		return 0;
	case HTTPRESP_FRAMING_LENGTH:
		if (h->content_length >= outmax)
			return fail(-EMSGSIZE, err, errlen, "body of %" PRIu64 " bytes, limit %zu",
				    h->content_length, outmax - 1);
		if (avail < h->content_length) {
			if (eof)
				return fail(-EINVAL, err, errlen,
					    "connection closed after %zu of %" PRIu64 " body bytes",
					    avail, h->content_length);
			return -EAGAIN;
		}
		memcpy(out, b + h->header_len, (size_t)h->content_length);
		out[h->content_length] = '\0';
		*ret_len = (size_t)h->content_length;
		return 0;
	case HTTPRESP_FRAMING_CLOSE:
		if (avail >= outmax)
			return fail(-EMSGSIZE, err, errlen, "body longer than %zu bytes",
				    outmax - 1);
		if (!eof)
			return -EAGAIN;
		memcpy(out, b + h->header_len, avail);
		out[avail] = '\0';
		*ret_len = avail;
		return 0;
	case HTTPRESP_FRAMING_CHUNKED:
		return dechunk(b, len, h->header_len, eof, out, outmax, ret_len, err, errlen);
	}
	return fail(-EINVAL, err, errlen, "unknown framing");
}
