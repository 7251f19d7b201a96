/* Unit tests for redact, the pure core of the log's output path: apikey values
 * found by structure (every quoting depth, whitespace, cut lines, look-alikes
 * left alone), secrets by a rolling hash (overlaps, many lengths, thousands of
 * secrets), rendering (escapes, UTF-8, the cut never splits an escape). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "redact.h"

/* Render in through both markers with set (may be NULL) and flags. */
static char *
line(const struct redact_set *set, const char *in, size_t in_max, size_t out_max, unsigned flags)
{
	size_t n = strlen(in);
	unsigned char *mask = calloc(1, n + 1);
	char *out = malloc(out_max + 4);

	if (set)
		redact_mark_secrets(set, in, n, mask);
	redact_mark_apikeys(in, n, mask);
	redact_render(in, n, mask, in_max, out_max, flags, out);
	free(mask);
	return out;
}

static void
test_apikeys(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		/* Raw JSON, both sides of the protocol. */
		{ "{\"apikey\":\"1234-abcd\",\"deviceid\":\"100\"}",
		  "{\"apikey\":\"<redacted>\",\"deviceid\":\"100\"}" },
		{ "{\"error\":0,\"apikey\":\"k\"}", "{\"error\":0,\"apikey\":\"<redacted>\"}" },
		/* Whitespace around the colon, raw and escaped. */
		{ "\"apikey\" : \"k\"", "\"apikey\" : \"<redacted>\"" },
		{ "\"apikey\"\t\r\n:\n \"k\"", "\"apikey\"\\t\\r\\n:\\n \"<redacted>\"" },
		{ "{\\\"apikey\\\"\\n:\\t\\\"k\\\"}", "{\\\"apikey\\\"\\n:\\t\\\"<redacted>\\\"}" },
		/* Escaped once (a frame inside a JSON string) and twice. */
		{ "{\"f\":\"{\\\"apikey\\\":\\\"k-1\\\",\\\"a\\\":1}\"}",
		  "{\"f\":\"{\\\"apikey\\\":\\\"<redacted>\\\",\\\"a\\\":1}\"}" },
		{ "\\\\\\\"apikey\\\\\\\":\\\\\\\"k-2\\\\\\\",x",
		  "\\\\\\\"apikey\\\\\\\":\\\\\\\"<redacted>\\\\\\\",x" },
		/* A quote or backslash inside the value is not its end. */
		{ "{\"apikey\":\"a\\\"b\\\\\",\"x\":1}", "{\"apikey\":\"<redacted>\",\"x\":1}" },
		{ "{\\\"apikey\\\":\\\"a\\\\\\\"b\\\",\\\"x\\\":1}",
		  "{\\\"apikey\\\":\\\"<redacted>\\\",\\\"x\\\":1}" },
		/* Any case; several in a line; empty and bare values. */
		{ "\"ApiKey\":\"k\" \"APIKEY\":\"l\"", "\"ApiKey\":\"<redacted>\" \"APIKEY\":\"<redacted>\"" },
		{ "\"apikey\":\"\",", "\"apikey\":\"\"," },
		{ "\"apikey\":12345,\"b\":1", "\"apikey\":<redacted>,\"b\":1" },
		{ "\"apikey\":null}", "\"apikey\":<redacted>}" },
		/* A line cut inside the value: masked to the end. */
		{ "{\"apikey\":\"abcdef", "{\"apikey\":\"<redacted>" },
		{ "{\"apikey\":", "{\"apikey\":" },
		/* Look-alikes stay. */
		{ "{\"x\":\"apikey\",\"y\":\"v\"}", "{\"x\":\"apikey\",\"y\":\"v\"}" },
		{ "\"apikeys\":\"v\"", "\"apikeys\":\"v\"" },
		{ "apikey: v", "apikey: v" },
		{ "\"apikey\"", "\"apikey\"" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = line(NULL, rows[i].in, 4096, 4096, REDACT_ESCAPE_CONTROL);

		CHECK_MSG(strcmp(out, rows[i].want) == 0, "row %zu: \"%s\", want \"%s\"", i, out,
			  rows[i].want);
		free(out);
	}
}

static void
test_secrets(void)
{
	struct redact_set set = { 0 };
	char name[32], big[REDACT_SECRET_LEN_MAX + 2];

	CHECK_INT(redact_set_add(&set, "", 0), -E2BIG);
	memset(big, 'b', sizeof(big));
	CHECK_INT(redact_set_add(&set, big, REDACT_SECRET_LEN_MAX + 1), -E2BIG);
	CHECK_INT(redact_set_add(&set, big, REDACT_SECRET_LEN_MAX), 0);
	CHECK_INT(redact_set_add(&set, "x", 1), 0); /* 1-byte secrets work too */
	CHECK_INT(redact_set_add(&set, "pass", 4), 0);
	CHECK_INT(redact_set_add(&set, "pass", 4), 0); /* a repeat */
	CHECK_INT(set.n, 3);
	CHECK_INT(set.nclasses, 3);
	/* Thousands of secrets of one length with a common prefix. */
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "key-%05u", i);
		CHECK_MSG(redact_set_add(&set, name, strlen(name)) == 0, "key %u", i);
	}
	CHECK_INT(set.n, 20003);

	char *out = line(&set, "a pass, key-00000 key-19999 key-20000 xx pasS", 4096, 4096, 0);
	CHECK_STR(out, "a ***, *** *** key-20000 *** pasS");
	free(out);
	/* Overlaps and self-overlaps collapse into one mark. */
	redact_set_free(&set);
	CHECK_INT(set.n, 0);
	CHECK_INT(redact_set_add(&set, "abcdXYZW", 8), 0);
	CHECK_INT(redact_set_add(&set, "XYZWefgh", 8), 0);
	CHECK_INT(redact_set_add(&set, "nono", 4), 0);
	out = line(&set, "1 abcdXYZWefgh 2 nonono 3 XYZWefgXYZWefgh", 4096, 4096, 0);
	CHECK_STR(out, "1 *** 2 *** 3 XYZWefg***");
	free(out);
	/* An apikey that is also a secret shows as an apikey. */
	CHECK_INT(redact_set_add(&set, "k-77", 4), 0);
	out = line(&set, "{\"apikey\":\"k-77\"} k-77", 4096, 4096, 0);
	CHECK_STR(out, "{\"apikey\":\"<redacted>\"} ***");
	free(out);
	redact_set_free(&set);

	/* The cap: refused, not wrapped. */
	for (unsigned i = 0; i < REDACT_SECRETS_MAX; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		if (redact_set_add(&set, name, strlen(name)) != 0) {
			CHECK_MSG(0, "add %u failed", i);
			break;
		}
	}
	CHECK_INT(redact_set_add(&set, "one more", 8), -ENOSPC);
	CHECK_INT(redact_set_add(&set, "s7", 2), 0); /* a repeat is still fine */
	redact_set_free(&set);
}

static void
test_render(void)
{
	static const struct {
		const char *in;
		size_t in_max, out_max;
		unsigned flags;
		const char *want;
	} rows[] = {
		{ "a\nb\rc\td\x01" "e\x7f", 99, 99, REDACT_ESCAPE_CONTROL, "a\\nb\\rc\\td\\x01e\\x7f" },
		/* JSON mode: controls stay for cJSON, invalid UTF-8 still goes. */
		{ "a\nb\x01\xff", 99, 99, 0, "a\nb\x01\\xff" },
		{ "\xc2\x9b \xe2\x80\xa8", 99, 99, 0, "\xc2\x9b \xe2\x80\xa8" },
		{ "\xc2\x9b \xe2\x80\xa8", 99, 99, REDACT_ESCAPE_CONTROL, "\\xc2\\x9b \\xe2\\x80\\xa8" },
		{ "\xc2\xa0\xc2", 99, 99, 0, "\xc2\xa0\\xc2" },
		{ "\xf0\x9f\x98", 99, 99, 0, "\\xf0\\x9f\\x98" },
		/* Cuts: by output size, never inside an escape or a character. */
		{ "abcdef", 99, 6, 0, "abcdef" },
		{ "abcdefg", 99, 6, 0, "abcdef..." },
		{ "abcde\x01", 99, 6, REDACT_ESCAPE_CONTROL, "abcde..." },
		{ "abcd\xe2\x82\xac", 99, 6, 0, "abcd..." },
		{ "abc\xe2\x82\xac", 99, 6, 0, "abc\xe2\x82\xac" },
		/* ... and by input position. */
		{ "abcdefgh", 4, 99, 0, "abcd..." },
		/* (the value started before the cut: masked whole, then cut) */
		{ "\"apikey\":\"0123456789\"", 12, 99, 0, "\"apikey\":\"<redacted>..." },
		{ "\"apikey\":\"0123456789\"", 12, 14, 0, "\"apikey\":\"..." },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = line(NULL, rows[i].in, rows[i].in_max, rows[i].out_max, rows[i].flags);

		CHECK_MSG(strcmp(out, rows[i].want) == 0, "row %zu: \"%s\", want \"%s\"", i, out,
			  rows[i].want);
		CHECK_MSG(strlen(out) <= rows[i].out_max + 3, "row %zu too long", i);
		free(out);
	}

	/* Every single byte value: with escaping, the output is printable ASCII or
	 * valid UTF-8 and never a control byte. */
	for (unsigned b = 0; b < 256; b++) {
		char in[2] = { (char)b, 0 };
		unsigned char mask[1] = { 0 };
		char out[16];
		size_t n = redact_render(in, b ? 1 : 0, mask, 99, 99, REDACT_ESCAPE_CONTROL, out);

		for (size_t k = 0; k < n; k++)
			CHECK_MSG((unsigned char)out[k] >= 0x20 && out[k] != 0x7f, "byte %u", b);
		CHECK_MSG(b == 0 || (b >= 0x20 && b < 0x7f) ? n == (b ? 1u : 0u) : n >= 2,
			  "byte %u: \"%s\"", b, out);
	}
}

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
	} rows[] = {
		{ "a", 1 },           { "\xc2\x80", 2 },     { "\xdf\xbf", 2 },
		{ "\xe0\xa0\x80", 3 }, { "\xed\x9f\xbf", 3 }, { "\xef\xbf\xbf", 3 },
		{ "\xf0\x90\x80\x80", 4 }, { "\xf4\x8f\xbf\xbf", 4 },
		{ "\x80", 0 },        { "\xc0\x80", 0 },     { "\xc1\xbf", 0 },
		{ "\xe0\x9f\xbf", 0 }, { "\xed\xa0\x80", 0 }, { "\xf0\x8f\xbf\xbf", 0 },
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "\xff", 0 },
		{ "\xc2", 0 },        { "\xe2\x82", 0 },     { "\xc2\x41", 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(redact_utf8_len((const unsigned char *)rows[i].s, strlen(rows[i].s)) ==
				  rows[i].len,
			  "row %zu", i);
}

int
main(void)
{
	test_apikeys();
	test_secrets();
	test_render();
	test_utf8();
	return check_done();
}
