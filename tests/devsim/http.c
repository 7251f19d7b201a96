/* http: strict head parsers.
 *
 * Stricter than a browser on purpose: the simulator must not accept a response that a
 * small embedded HTTP client could misread (PROTOCOL §4: exact Content-Length, exact
 * Content-Range, never chunked).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static bool
is_tchar(int ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Strict unsigned decimal, no sign, no spaces, <= 18 digits. */
static int
parse_ull(const char *s, size_t n, long long *ret)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

bool
http_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *p = value;

	while (*p) {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tl && !strncasecmp(p, token, tl))
			return true;
		p = e;
	}
	return false;
}

static int
parse_content_range(const char *v, struct http_resp *r)
{
	const char *dash, *slash;

	if (strncmp(v, "bytes ", 6))
		return -EINVAL;
	v += 6;
	dash = strchr(v, '-');
	slash = strchr(v, '/');
	if (!dash || !slash || slash < dash)
		return -EINVAL;
	if (parse_ull(v, (size_t)(dash - v), &r->range_first) ||
	    parse_ull(dash + 1, (size_t)(slash - dash - 1), &r->range_last) ||
	    parse_ull(slash + 1, strlen(slash + 1), &r->range_total))
		return -EINVAL;
	if (r->range_first > r->range_last || r->range_last >= r->range_total)
		return -EINVAL;
	r->has_range = true;
	return 0;
}

/* Split the header lines after the start line. For each header calls fn(name, value);
 * the value is trimmed. Enforces CRLF line ends, token names, no folding. */
typedef int (*http_header_fn)(void *arg, const char *name, const char *value, char *err,
			      size_t errlen);

static int
each_header(const char *head, size_t len, const char **ret_first_line_end, http_header_fn fn,
	    void *arg, char *err, size_t errlen)
{
	const char *p = head, *end = head + len;
	const char *eol;
	int r;

	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4)) {
		snprintf(err, errlen, "head does not end with CRLFCRLF");
		return -EBADMSG;
	}
	if (memchr(head, '\0', len)) {
		snprintf(err, errlen, "NUL byte in head");
		return -EBADMSG;
	}
	eol = memchr(p, '\n', len);
	if (!eol || eol == p || eol[-1] != '\r') {
		snprintf(err, errlen, "start line not terminated by CRLF");
		return -EBADMSG;
	}
	*ret_first_line_end = eol - 1;
	p = eol + 1;
	while (p < end - 2) {
		char name[64], value[HTTP_HEAD_MAX];
		const char *colon, *v;
		size_t nl, vl;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol || eol == p || eol[-1] != '\r') {
			snprintf(err, errlen, "header line not terminated by CRLF");
			return -EBADMSG;
		}
		if (*p == ' ' || *p == '\t') {
			snprintf(err, errlen, "obsolete header folding");
			return -EBADMSG;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p) {
			snprintf(err, errlen, "header line without name/colon");
			return -EBADMSG;
		}
		nl = (size_t)(colon - p);
		if (nl >= sizeof(name)) {
			snprintf(err, errlen, "header name too long");
			return -EBADMSG;
		}
		memcpy(name, p, nl);
		name[nl] = '\0';
		for (size_t i = 0; i < nl; i++)
			if (!is_tchar((unsigned char)name[i])) {
				snprintf(err, errlen, "invalid character in header name");
				return -EBADMSG;
			}
		v = colon + 1;
		while (v < eol - 1 && (*v == ' ' || *v == '\t'))
			v++;
		vl = (size_t)(eol - 1 - v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		memcpy(value, v, vl);
		value[vl] = '\0';
		for (size_t i = 0; i < vl; i++)
			if ((unsigned char)value[i] < 0x20 && value[i] != '\t') {
				snprintf(err, errlen, "control character in header \"%s\"", name);
				return -EBADMSG;
			}
		r = fn(arg, name, value, err, errlen);
		if (r < 0)
			return r;
		p = eol + 1;
	}
	return 0;
}

static void
keep(char *dst, const char *v)
{
	snprintf(dst, HTTP_VALUE_MAX, "%s", v);
}

static int
content_length(long long *cl, const char *value, char *err, size_t errlen)
{
	long long v;

	if (*cl != -1) {
		snprintf(err, errlen, "duplicate Content-Length");
		return -EBADMSG;
	}
	if (parse_ull(value, strlen(value), &v)) {
		snprintf(err, errlen, "malformed Content-Length \"%s\"", value);
		return -EBADMSG;
	}
	*cl = v;
	return 0;
}

static int
resp_header(void *arg, const char *name, const char *value, char *err, size_t errlen)
{
	struct http_resp *r = arg;

	if (!strcasecmp(name, "Content-Length"))
		return content_length(&r->content_length, value, err, errlen);
	if (!strcasecmp(name, "Transfer-Encoding")) {
		r->te_present = true;
		if (strcasestr(value, "chunked"))
			r->te_chunked = true;
		return 0;
	}
	if (!strcasecmp(name, "Content-Range")) {
		if (r->has_range) {
			snprintf(err, errlen, "duplicate Content-Range");
			return -EBADMSG;
		}
		if (parse_content_range(value, r)) {
			snprintf(err, errlen, "malformed Content-Range \"%s\"", value);
			return -EBADMSG;
		}
		return 0;
	}
	if (!strcasecmp(name, "Connection")) {
		keep(r->connection, value);
		if (http_has_token(value, "close"))
			r->conn_close = true;
		return 0;
	}
	if (!strcasecmp(name, "Upgrade")) {
		keep(r->upgrade, value);
		return 0;
	}
	if (!strcasecmp(name, "Sec-WebSocket-Accept")) {
		keep(r->ws_accept, value);
		return 0;
	}
	if (!strcasecmp(name, "Sec-WebSocket-Protocol"))
		r->ws_protocol = true;
	if (!strcasecmp(name, "Sec-WebSocket-Extensions"))
		r->ws_extensions = true;
	return 0;
}

int
http_parse_response(const char *head, size_t len, struct http_resp *ret, char *err,
		    size_t errlen)
{
	struct http_resp r;
	const char *le;
	int rc;

	memset(&r, 0, sizeof(r));
	r.content_length = -1;
	rc = each_header(head, len, &le, resp_header, &r, err, errlen);
	if (rc < 0)
		return rc;
	/* "HTTP/1.x SSS[ reason]" */
	if (le - head < 12 || strncmp(head, "HTTP/1.", 7) || (head[7] != '0' && head[7] != '1') ||
	    head[8] != ' ' || !isdigit((unsigned char)head[9]) ||
	    !isdigit((unsigned char)head[10]) || !isdigit((unsigned char)head[11]) ||
	    (le - head > 12 && head[12] != ' ')) {
		snprintf(err, errlen, "malformed status line");
		return -EBADMSG;
	}
	r.minor = head[7] - '0';
	r.status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
	if (r.status < 100) {
		snprintf(err, errlen, "malformed status code");
		return -EBADMSG;
	}
	*ret = r;
	return 0;
}

static int
req_header(void *arg, const char *name, const char *value, char *err, size_t errlen)
{
	struct http_req *r = arg;

	if (!strcasecmp(name, "Content-Length"))
		return content_length(&r->content_length, value, err, errlen);
	if (!strcasecmp(name, "Transfer-Encoding"))
		r->te_present = true;
	if (!strcasecmp(name, "Expect"))
		r->expect = true;
	return 0;
}

int
http_parse_request(const char *head, size_t len, struct http_req *ret, char *err,
		   size_t errlen)
{
	struct http_req r;
	const char *le, *sp1, *sp2;
	size_t ml, pl;
	int rc;

	memset(&r, 0, sizeof(r));
	r.content_length = -1;
	rc = each_header(head, len, &le, req_header, &r, err, errlen);
	if (rc < 0)
		return rc;
	sp1 = memchr(head, ' ', (size_t)(le - head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;
	if (!sp1 || !sp2) {
		snprintf(err, errlen, "malformed request line");
		return -EBADMSG;
	}
	ml = (size_t)(sp1 - head);
	pl = (size_t)(sp2 - sp1 - 1);
	if (ml == 0 || ml >= sizeof(r.method) || pl == 0 || pl >= sizeof(r.path)) {
		snprintf(err, errlen, "request method or target too long");
		return -EBADMSG;
	}
	memcpy(r.method, head, ml);
	memcpy(r.path, sp1 + 1, pl);
	if (le - sp2 - 1 == 8 && !strncmp(sp2 + 1, "HTTP/1.", 7) &&
	    (sp2[8] == '0' || sp2[8] == '1'))
		r.minor = sp2[8] - '0';
	else
		r.minor = -1;
	*ret = r;
	return 0;
}
