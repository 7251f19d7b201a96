/* Unit tests of httpresp: the head parser and body extraction, table-driven,
 * plus a byte-by-byte feed of every accepted response (each prefix must ask for
 * more, never fail). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "httpresp.h"

struct head_case {
	const char *name;
	const char *in;
	int want;                     /* return of httpresp_parse */
	unsigned status;              /* when want == 0 */
	unsigned minor;
	enum httpresp_framing framing;
	uint64_t clen;
	bool close;
	const char *ctype;
	size_t header_len;            /* 0: strlen(in) */
};

#define OK200 "HTTP/1.1 200 OK\r\n"
#define FAIL(n, i, w) { .name = (n), .in = (i), .want = (w) }

static const struct head_case head_cases[] = {
	{ "device reply", OK200 "Content-Type: application/json\r\nContent-Length: 11\r\n"
	  "Connection: close\r\n\r\n", 0, 200, 1, HTTPRESP_FRAMING_LENGTH, 11, true,
	  "application/json", 0 },
	{ "http/1.0, no headers", "HTTP/1.0 200 OK\r\n\r\n", 0, 200, 0,
	  HTTPRESP_FRAMING_CLOSE, 0, false, "", 0 },
	{ "bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\n", 0, 200, 1,
	  HTTPRESP_FRAMING_LENGTH, 2, false, "", 0 },
	{ "no reason phrase", "HTTP/1.1 200\r\n\r\n", 0, 200, 1, HTTPRESP_FRAMING_CLOSE, 0,
	  false, "", 0 },
	{ "empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 0, 404, 1,
	  HTTPRESP_FRAMING_LENGTH, 0, false, "", 0 },
	{ "reason with obs-text", "HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n\r\n", 0, 200, 1,
	  HTTPRESP_FRAMING_CLOSE, 0, false, "", 0 },
	{ "chunked", OK200 "Transfer-Encoding: chunked\r\n\r\n", 0, 200, 1,
	  HTTPRESP_FRAMING_CHUNKED, 0, false, "", 0 },
	{ "chunked, mixed case, OWS", OK200 "transfer-encoding:   ChUnKeD \t\r\n\r\n", 0, 200,
	  1, HTTPRESP_FRAMING_CHUNKED, 0, false, "", 0 },
	{ "204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, 204,
	  1, HTTPRESP_FRAMING_NONE, 0, false, "", 0 },
	{ "304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", 0, 304, 1,
	  HTTPRESP_FRAMING_NONE, 0, false, "", 0 },
	{ "100 continue", "HTTP/1.1 100 Continue\r\n\r\n", 0, 100, 1, HTTPRESP_FRAMING_NONE,
	  0, false, "", 0 },
	{ "body bytes after the head", OK200 "Content-Length: 3\r\n\r\nabc", 0, 200, 1,
	  HTTPRESP_FRAMING_LENGTH, 3, false, "", strlen(OK200 "Content-Length: 3\r\n\r\n") },
	{ "duplicate equal Content-Length", OK200 "Content-Length: 3\r\nContent-Length: 3\r\n\r\n",
	  0, 200, 1, HTTPRESP_FRAMING_LENGTH, 3, false, "", 0 },
	{ "Connection list with close", OK200 "Connection: keep-alive, Close\r\n\r\n", 0, 200,
	  1, HTTPRESP_FRAMING_CLOSE, 0, true, "", 0 },
	{ "empty header value", OK200 "X-Empty:\r\n\r\n", 0, 200, 1, HTTPRESP_FRAMING_CLOSE,
	  0, false, "", 0 },
	{ "huge Content-Length is framing, not body",
	  OK200 "Content-Length: 18446744073709551615\r\n\r\n",
	  0, 200, 1, HTTPRESP_FRAMING_LENGTH, UINT64_MAX, false, "", 0 },

	/* need more bytes */
	FAIL("empty", "", -EAGAIN),
	FAIL("prefix", "HTTP/1", -EAGAIN),
	FAIL("status line only", OK200, -EAGAIN),
	FAIL("CR at the end", OK200 "\r", -EAGAIN),
	FAIL("half a header", OK200 "Content-Le", -EAGAIN),

	/* malformed */
	FAIL("not HTTP", "SSH-2.0-OpenSSH\r\n", -EINVAL),
	FAIL("wrong prefix early", "HTTX", -EINVAL),
	FAIL("HTTP/2", "HTTP/2 200\r\n\r\n", -EINVAL),
	FAIL("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", -EINVAL),
	FAIL("lower-case http", "http/1.1 200 OK\r\n\r\n", -EINVAL),
	FAIL("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", -EINVAL),
	FAIL("status 600", "HTTP/1.1 600 OK\r\n\r\n", -EINVAL),
	FAIL("status 099", "HTTP/1.1 099 OK\r\n\r\n", -EINVAL),
	FAIL("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", -EINVAL),
	FAIL("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", -EINVAL),
	FAIL("control char in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", -EINVAL),
	FAIL("bare CR in the status line", "HTTP/1.1 200 O\rK\r\n\r\n", -EINVAL),
	FAIL("obs-fold", OK200 "X-A: 1\r\n  continued\r\n\r\n", -EINVAL),
	FAIL("space before colon", OK200 "Content-Length : 1\r\n\r\n", -EINVAL),
	FAIL("no colon", OK200 "Content-Length 1\r\n\r\n", -EINVAL),
	FAIL("empty name", OK200 ": x\r\n\r\n", -EINVAL),
	FAIL("NUL in value", OK200 "X-A: a\0b\r\n\r\n", -EINVAL),
	FAIL("DEL in value", OK200 "X-A: a\x7f\r\n\r\n", -EINVAL),
	FAIL("negative Content-Length", OK200 "Content-Length: -1\r\n\r\n", -EINVAL),
	FAIL("Content-Length with sign", OK200 "Content-Length: +1\r\n\r\n", -EINVAL),
	FAIL("Content-Length list", OK200 "Content-Length: 1, 1\r\n\r\n", -EINVAL),
	FAIL("empty Content-Length", OK200 "Content-Length:\r\n\r\n", -EINVAL),
	FAIL("hex Content-Length", OK200 "Content-Length: 0x10\r\n\r\n", -EINVAL),
	FAIL("Content-Length overflow", OK200 "Content-Length: 18446744073709551616\r\n\r\n",
	     -EINVAL),
	FAIL("conflicting Content-Length", OK200 "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
	     -EINVAL),
	FAIL("TE and CL", OK200 "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
	     -EINVAL),
	FAIL("TE gzip", OK200 "Transfer-Encoding: gzip\r\n\r\n", -EINVAL),
	FAIL("TE gzip, chunked", OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n", -EINVAL),
	FAIL("TE chunked, gzip", OK200 "Transfer-Encoding: chunked, gzip\r\n\r\n", -EINVAL),
	FAIL("TE chunked twice",
	     OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", -EINVAL),
	FAIL("TE empty", OK200 "Transfer-Encoding: \r\n\r\n", -EINVAL),
};

static void
test_head_table(void)
{
	for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
		const struct head_case *c = &head_cases[i];
		/* strlen stops at an embedded NUL: take the literal's real length */
		size_t len = strlen(c->in);
		struct httpresp h;
		char err[128] = "";
		int r;

		if (strcmp(c->name, "NUL in value") == 0)
			len = strlen(OK200 "X-A: a") + 1 + strlen("b\r\n\r\n");
		memset(&h, 0x5a, sizeof(h));
		r = httpresp_parse(c->in, len, &h, err, sizeof(err));
		CHECK_MSG(r == c->want, "%s: got %d (%s), want %d", c->name, r, err, c->want);
		if (r != 0 || c->want != 0)
			continue;
		CHECK_MSG(h.status == c->status, "%s: status %u", c->name, h.status);
		CHECK_MSG(h.version_minor == c->minor, "%s: minor %u", c->name, h.version_minor);
		CHECK_MSG(h.framing == c->framing, "%s: framing %d", c->name, h.framing);
		CHECK_MSG(h.content_length == c->clen, "%s: clen", c->name);
		CHECK_MSG(h.connection_close == c->close, "%s: close", c->name);
		CHECK_MSG(strcmp(h.content_type, c->ctype) == 0, "%s: ctype \"%s\"", c->name,
			  h.content_type);
		CHECK_MSG(h.header_len == (c->header_len ? c->header_len : len),
			  "%s: header_len %zu", c->name, h.header_len);
	}
}

/* ret untouched on failure; err filled */
static void
test_head_untouched(void)
{
	struct httpresp h, before;
	char err[64] = "";

	memset(&h, 0x5a, sizeof(h));
	before = h;
	CHECK_INT(httpresp_parse("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n", 25, &h, err, sizeof(err)),
		  -EINVAL);
	CHECK(memcmp(&h, &before, sizeof(h)) == 0);
	CHECK(err[0] != '\0');
	CHECK_INT(httpresp_parse(NULL, 0, &h, NULL, 0), -EAGAIN);
	CHECK_INT(httpresp_parse(NULL, 3, &h, NULL, 0), -EINVAL);
}

/* Every named limit, at and just past its value. */
static void
test_head_limits(void)
{
	size_t cap = HTTPRESP_HEAD_MAX + 4096;
	char *b = malloc(cap);
	struct httpresp h;
	size_t n;

	CHECK(b != NULL);
	if (!b)
		return;

	/* a header line of exactly HTTPRESP_LINE_MAX bytes passes, one more fails */
	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(b, OK200 "X-Long: ");
		size_t fill = HTTPRESP_LINE_MAX - strlen("X-Long: ") + (size_t)extra;
		memset(b + n, 'a', fill);
		n += fill;
		n += (size_t)sprintf(b + n, "\r\n\r\n");
		CHECK_INT(httpresp_parse(b, n, &h, NULL, 0), extra ? -EMSGSIZE : 0);
		/* and an unterminated over-long line is refused without waiting */
		CHECK_INT(httpresp_parse(b, n - 4 + (size_t)extra, &h, NULL, 0),
			  extra ? -EMSGSIZE : -EAGAIN);
	}

	/* HTTPRESP_HEADERS_MAX header lines pass, one more fails */
	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(b, OK200);
		for (int i = 0; i < HTTPRESP_HEADERS_MAX + extra; i++)
			n += (size_t)sprintf(b + n, "X-%d: v\r\n", i);
		n += (size_t)sprintf(b + n, "\r\n");
		CHECK_INT(httpresp_parse(b, n, &h, NULL, 0), extra ? -EMSGSIZE : 0);
	}

	/* a head longer than HTTPRESP_HEAD_MAX fails even with legal lines */
	n = (size_t)sprintf(b, OK200);
	for (int i = 0; i < 12; i++) {
		n += (size_t)sprintf(b + n, "X-%d: ", i);
		memset(b + n, 'v', 1000);
		n += 1000;
		n += (size_t)sprintf(b + n, "\r\n");
	}
	n += (size_t)sprintf(b + n, "\r\n");
	CHECK(n > HTTPRESP_HEAD_MAX);
	CHECK_INT(httpresp_parse(b, n, &h, NULL, 0), -EMSGSIZE);
	/* ... and so does an endless stream of short headers, before completion */
	CHECK_INT(httpresp_parse(b, n - 2, &h, NULL, 0), -EMSGSIZE);

	/* a long Content-Type is cut and flagged */
	n = (size_t)sprintf(b, OK200 "Content-Type: ");
	memset(b + n, 't', HTTPRESP_CTYPE_MAX + 10);
	n += HTTPRESP_CTYPE_MAX + 10;
	n += (size_t)sprintf(b + n, "\r\n\r\n");
	CHECK_INT(httpresp_parse(b, n, &h, NULL, 0), 0);
	CHECK(h.ctype_cut);
	CHECK_INT(strlen(h.content_type), HTTPRESP_CTYPE_MAX - 1);
	free(b);
}

struct body_case {
	const char *name;
	const char *in;    /* head + body bytes */
	bool eof;
	size_t outmax;     /* 0: 256 */
	int want;
	const char *body;  /* when want == 0 */
};

#define CL(n) "HTTP/1.1 200 OK\r\nContent-Length: " #n "\r\n\r\n"
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CLOSE "HTTP/1.0 200 OK\r\n\r\n"
#define BFAIL(n, i, e, m, w) { .name = (n), .in = (i), .eof = (e), .outmax = (m), .want = (w) }

static const struct body_case body_cases[] = {
	{ "length, complete", CL(11) "{\"error\":0}", false, 0, 0, "{\"error\":0}" },
	BFAIL("length, short", CL(11) "{\"error\"", false, 0, -EAGAIN),
	BFAIL("length, short at eof", CL(11) "{\"error\"", true, 0, -EINVAL),
	{ "length, trailing bytes ignored", CL(2) "okEXTRA", false, 0, 0, "ok" },
	{ "length 0", CL(0), false, 0, 0, "" },
	{ "length, fits exactly", CL(3) "abc", false, 4, 0, "abc" },
	BFAIL("length, no room for NUL", CL(3) "abc", false, 3, -EMSGSIZE),
	BFAIL("length too big, decided early", CL(1000), false, 0, -EMSGSIZE),
	BFAIL("close-delimited, open", CLOSE "abc", false, 0, -EAGAIN),
	{ "close-delimited, eof", CLOSE "abc", true, 0, 0, "abc" },
	{ "close-delimited, empty", CLOSE, true, 0, 0, "" },
	BFAIL("close-delimited, too big", CLOSE "abcd", false, 4, -EMSGSIZE),
	{ "no body for 204", "HTTP/1.1 204 No Content\r\n\r\n", false, 0, 0, "" },
	{ "chunked", CH "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", false, 0, 0, "hello world" },
	{ "chunked, LF only", CH "5\nhello\n0\n\n", false, 0, 0, "hello" },
	{ "chunked, hex upper/lower", CH "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n",
	  false, 0, 0, "0123456789abcdefghijk" },
	{ "chunked, extension", CH "5;name=val\r\nhello\r\n0;x\r\n\r\n", false, 0, 0, "hello" },
	{ "chunked, trailers", CH "2\r\nhi\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", false, 0, 0, "hi" },
	{ "chunked, leading zeros", CH "0002\r\nhi\r\n0\r\n\r\n", false, 0, 0, "hi" },
	{ "chunked, empty", CH "0\r\n\r\n", false, 0, 0, "" },
	BFAIL("chunked, size line incomplete", CH "5", false, 0, -EAGAIN),
	BFAIL("chunked, data incomplete", CH "5\r\nhel", false, 0, -EAGAIN),
	BFAIL("chunked, no last chunk", CH "5\r\nhello\r\n", false, 0, -EAGAIN),
	BFAIL("chunked, no final CRLF", CH "5\r\nhello\r\n0\r\n", false, 0, -EAGAIN),
	BFAIL("chunked, cut at eof", CH "5\r\nhello\r\n", true, 0, -EINVAL),
	BFAIL("chunked, bad size", CH "x\r\nhello\r\n0\r\n\r\n", false, 0, -EINVAL),
	BFAIL("chunked, negative size", CH "-5\r\nhello\r\n0\r\n\r\n", false, 0, -EINVAL),
	BFAIL("chunked, space in size", CH "5 5\r\nhello\r\n0\r\n\r\n", false, 0, -EINVAL),
	BFAIL("chunked, data longer than size", CH "3\r\nhello\r\n0\r\n\r\n", false, 0, -EINVAL),
	BFAIL("chunked, control char in extension", CH "5;\x01\r\nhello\r\n0\r\n\r\n", false, 0,
	      -EINVAL),
	BFAIL("chunked, too big", CH "100\r\n", false, 0, -EMSGSIZE),
	BFAIL("chunked, size overflows", CH "fffffffffffffffffffff\r\n", false, 0, -EMSGSIZE),
	BFAIL("chunked, no room for NUL", CH "3\r\nabc\r\n0\r\n\r\n", false, 3, -EMSGSIZE),
	{ "chunked, fits exactly", CH "3\r\nabc\r\n0\r\n\r\n", false, 4, 0, "abc" },
};

static void
test_body_table(void)
{
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		size_t len = strlen(c->in), outmax = c->outmax ? c->outmax : 256, got = 777;
		char out[256], err[128] = "";
		struct httpresp h;
		int r;

		r = httpresp_parse(c->in, len, &h, err, sizeof(err));
		CHECK_MSG(r == 0, "%s: head %d (%s)", c->name, r, err);
		if (r)
			continue;
		r = httpresp_body(c->in, len, c->eof, &h, out, outmax, &got, err, sizeof(err));
		CHECK_MSG(r == c->want, "%s: got %d (%s), want %d", c->name, r, err, c->want);
		if (r == 0 && c->want == 0) {
			CHECK_MSG(got == strlen(c->body) && strcmp(out, c->body) == 0,
				  "%s: body \"%s\" (%zu)", c->name, out, got);
		} else {
			CHECK_MSG(got == 777, "%s: ret_len written on failure", c->name);
		}
	}
}

/* Too many chunks: HTTPRESP_CHUNKS_MAX pass, one more fails. */
static void
test_chunk_limit(void)
{
	char b[2048], out[1024];
	struct httpresp h;
	size_t n, got;

	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(b, CH);
		for (int i = 0; i < HTTPRESP_CHUNKS_MAX - 1 + extra; i++)
			n += (size_t)sprintf(b + n, "1\r\nx\r\n");
		n += (size_t)sprintf(b + n, "0\r\n\r\n");
		CHECK_INT(httpresp_parse(b, n, &h, NULL, 0), 0);
		CHECK_INT(httpresp_body(b, n, false, &h, out, sizeof(out), &got, NULL, 0),
			  extra ? -EMSGSIZE : 0);
	}
}

/* A head from another buffer and a zero-sized output are refused. */
static void
test_body_misuse(void)
{
	const char *in = CL(2) "ok";
	struct httpresp h;
	char out[8];
	size_t got;

	CHECK_INT(httpresp_parse(in, strlen(in), &h, NULL, 0), 0);
	CHECK_INT(httpresp_body(in, 3, false, &h, out, sizeof(out), &got, NULL, 0), -EINVAL);
	CHECK_INT(httpresp_body(in, strlen(in), false, &h, out, 0, &got, NULL, 0), -EMSGSIZE);
	CHECK_INT(httpresp_body(in, strlen(in), false, NULL, out, sizeof(out), &got, NULL, 0),
		  -EINVAL);
}

/* Feeding an accepted response one byte at a time: every proper prefix must
 * give -EAGAIN (never -EINVAL), and the whole gives the same verdict. */
static void
test_bytewise(void)
{
	static const char *const accepted[] = {
		CL(11) "{\"error\":0}",
		CH "5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
	};

	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		const char *in = accepted[i];
		size_t len = strlen(in), got;
		struct httpresp h;
		char out[64];
		bool head_done = false;

		for (size_t n = 0; n <= len; n++) {
			int r;

			if (!head_done) {
				r = httpresp_parse(in, n, &h, NULL, 0);
				if (r == -EAGAIN)
					continue;
				CHECK_MSG(r == 0, "case %zu prefix %zu: head %d", i, n, r);
				if (r)
					break;
				head_done = true;
			}
			r = httpresp_body(in, n, false, &h, out, sizeof(out), &got, NULL, 0);
			CHECK_MSG(n == len ? r == 0 : r == -EAGAIN,
				  "case %zu prefix %zu: body %d", i, n, r);
		}
		CHECK_MSG(head_done, "case %zu: head never completed", i);
	}
}

int
main(void)
{
	test_head_table();
	test_head_untouched();
	test_head_limits();
	test_body_table();
	test_chunk_limit();
	test_body_misuse();
	test_bytewise();
	return check_done();
}
