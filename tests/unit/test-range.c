/* Unit tests for range.c: one table row per header/size pair. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "range.h"

#define U64MAX UINT64_MAX

struct row {
	const char *hdr;
	uint64_t size;
	enum range_result want;
	uint64_t off, len; /* for RANGE_OK */
};

static const struct row rows[] = {
	/* no header / not ours */
	{ NULL, 100, RANGE_NONE, 0, 0 },
	{ "", 100, RANGE_NONE, 0, 0 },
	{ "items=0-5", 100, RANGE_NONE, 0, 0 },
	{ "bytes", 100, RANGE_NONE, 0, 0 },
	{ "bytes=", 100, RANGE_NONE, 0, 0 },
	{ "bytes=,", 100, RANGE_NONE, 0, 0 },
	{ "bytesx=0-5", 100, RANGE_NONE, 0, 0 },

	/* a-b */
	{ "bytes=0-0", 100, RANGE_OK, 0, 1 },
	{ "bytes=0-99", 100, RANGE_OK, 0, 100 },
	{ "bytes=10-19", 100, RANGE_OK, 10, 10 },
	{ "bytes=99-99", 100, RANGE_OK, 99, 1 },
	{ "bytes=0-4095", 239220, RANGE_OK, 0, 4096 },
	{ "bytes=237568-241663", 239220, RANGE_OK, 237568, 1652 }, /* last 4 KB chunk clamped */
	/* clamping of the end */
	{ "bytes=0-100", 100, RANGE_OK, 0, 100 },
	{ "bytes=50-1000000", 100, RANGE_OK, 50, 50 },
	{ "bytes=0-18446744073709551615", 100, RANGE_OK, 0, 100 },
	/* a > b is invalid syntax: ignored */
	{ "bytes=20-10", 100, RANGE_NONE, 0, 0 },
	/* a >= size: 416 */
	{ "bytes=100-200", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=100-100", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=5000-", 100, RANGE_UNSATISFIABLE, 0, 0 },

	/* a- */
	{ "bytes=0-", 100, RANGE_OK, 0, 100 },
	{ "bytes=99-", 100, RANGE_OK, 99, 1 },
	{ "bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0 },

	/* -n */
	{ "bytes=-1", 100, RANGE_OK, 99, 1 },
	{ "bytes=-10", 100, RANGE_OK, 90, 10 },
	{ "bytes=-100", 100, RANGE_OK, 0, 100 },
	{ "bytes=-101", 100, RANGE_OK, 0, 100 },
	{ "bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-000", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-", 100, RANGE_NONE, 0, 0 },

	/* size 0: every well-formed range is unsatisfiable, malformed stays NONE */
	{ "bytes=0-0", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-5", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-0", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=x", 0, RANGE_NONE, 0, 0 },

	/* overflow: numbers beyond uint64 saturate, never wrap */
	{ "bytes=18446744073709551616-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=99999999999999999999999999999-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-99999999999999999999999999999", 100, RANGE_OK, 0, 100 },
	{ "bytes=-99999999999999999999999999999", 100, RANGE_OK, 0, 100 },
	/* 2^64+5 would wrap to 5 with naive arithmetic */
	{ "bytes=18446744073709551621-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-18446744073709551621", 100, RANGE_OK, 0, 100 },
	/* huge files */
	{ "bytes=0-", U64MAX, RANGE_OK, 0, U64MAX },
	{ "bytes=-5", U64MAX, RANGE_OK, U64MAX - 5, 5 },
	{ "bytes=18446744073709551614-", U64MAX, RANGE_OK, U64MAX - 1, 1 },
	{ "bytes=18446744073709551615-", U64MAX, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-99999999999999999999999", U64MAX, RANGE_OK, 0, U64MAX },

	/* strict digits */
	{ "bytes=+1-5", 100, RANGE_NONE, 0, 0 },
	{ "bytes=1-+5", 100, RANGE_NONE, 0, 0 },
	{ "bytes=--5", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0x10-20", 100, RANGE_NONE, 0, 0 },
	{ "bytes=1.5-2", 100, RANGE_NONE, 0, 0 },
	{ "bytes=a-b", 100, RANGE_NONE, 0, 0 },
	{ "bytes=5", 100, RANGE_NONE, 0, 0 },
	{ "bytes=1-2-3", 100, RANGE_NONE, 0, 0 },
	{ "bytes=1-2x", 100, RANGE_NONE, 0, 0 },
	{ "bytes=-5-", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-5;", 100, RANGE_NONE, 0, 0 },
	{ "bytes=\xff-5", 100, RANGE_NONE, 0, 0 },

	/* several ranges are ignored (we serve one) */
	{ "bytes=0-1,5-6", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-1, 5-6", 100, RANGE_NONE, 0, 0 },
	{ "bytes=-1,-2", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-1,x", 100, RANGE_NONE, 0, 0 },
	/* empty list elements do not count (RFC 7230 §7) */
	{ "bytes=0-9,", 100, RANGE_OK, 0, 10 },
	{ "bytes=,0-9", 100, RANGE_OK, 0, 10 },
	{ "bytes=, 0-9 ,, ", 100, RANGE_OK, 0, 10 },
	{ "bytes= ,0-9", 100, RANGE_NONE, 0, 0 },

	/* whitespace: only around the value and around commas */
	{ " bytes=0-9", 100, RANGE_OK, 0, 10 },
	{ "bytes=0-9 \t", 100, RANGE_OK, 0, 10 },
	{ "\tbytes=0-9\t", 100, RANGE_OK, 0, 10 },
	{ "bytes= 0-9", 100, RANGE_NONE, 0, 0 }, /* "1#" has no OWS right after "=" */
	{ "bytes=0-9 ,", 100, RANGE_OK, 0, 10 },  /* OWS "," */
	{ "bytes = 0-9", 100, RANGE_NONE, 0, 0 },
	{ "bytes =0-9", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0 -9", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0- 9", 100, RANGE_NONE, 0, 0 },
	{ "bytes=- 9", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-9\r\n", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-9\v", 100, RANGE_NONE, 0, 0 },

	/* unit is case-insensitive */
	{ "BYTES=0-9", 100, RANGE_OK, 0, 10 },
	{ "Bytes=-3", 100, RANGE_OK, 97, 3 },
	{ "bYtEs=5-", 100, RANGE_OK, 5, 95 },
};

static void
test_table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		uint64_t off = 0xdeadbeef, len = 0xfeedface;
		enum range_result got = range_parse(r->hdr, r->size, &off, &len);

		CHECK_MSG(got == r->want, "row %zu \"%s\" size %" PRIu64 ": got %d, want %d", i,
			  r->hdr ? r->hdr : "(null)", r->size, (int)got, (int)r->want);
		if (r->want == RANGE_OK && got == RANGE_OK) {
			CHECK_MSG(off == r->off && len == r->len,
				  "row %zu \"%s\": got off %" PRIu64 " len %" PRIu64
				  ", want %" PRIu64 " %" PRIu64,
				  i, r->hdr, off, len, r->off, r->len);
		} else {
			/* outputs written only on RANGE_OK */
			CHECK_MSG(off == 0xdeadbeef && len == 0xfeedface,
				  "row %zu \"%s\": outputs written without RANGE_OK", i,
				  r->hdr ? r->hdr : "(null)");
		}
	}
}

/* The length limit: a header of exactly RANGE_HEADER_MAX characters is parsed, one
 * more is ignored; and a header is never read past its terminator. */
static void
test_length_limit(void)
{
	char buf[RANGE_HEADER_MAX + 2];
	uint64_t off = 0, len = 0;
	const char *spec = "bytes=0-9";
	size_t pad = RANGE_HEADER_MAX - strlen(spec);

	memset(buf, ' ', pad);
	strcpy(buf + pad, spec);
	CHECK_INT(strlen(buf), RANGE_HEADER_MAX);
	CHECK_INT(range_parse(buf, 100, &off, &len), RANGE_OK);
	CHECK_INT(off, 0);
	CHECK_INT(len, 10);

	memset(buf, ' ', pad + 1);
	strcpy(buf + pad + 1, spec);
	CHECK_INT(strlen(buf), RANGE_HEADER_MAX + 1);
	CHECK_INT(range_parse(buf, 100, &off, &len), RANGE_NONE);
}

/* Every offset/length returned stays inside the file, for every size near the
 * edges, for the chunked pattern the stock firmware uses (§4 of PROTOCOL.md). */
static void
test_chunks_cover_file(void)
{
	static const uint64_t sizes[] = { 1, 2, 4095, 4096, 4097, 239220 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t size = sizes[i], pos = 0;
		unsigned reqs = 0;
		int bad = 0;

		while (pos < size && reqs < 1000) {
			char hdr[64];
			uint64_t off = 0, len = 0;

			snprintf(hdr, sizeof(hdr), "bytes=%" PRIu64 "-%" PRIu64, pos, pos + 4095);
			if (range_parse(hdr, size, &off, &len) != RANGE_OK || off != pos ||
			    len == 0 || off + len > size)
				bad++;
			pos += len ? len : 1;
			reqs++;
		}
		CHECK_MSG(!bad && pos == size, "size %" PRIu64 ": %d bad chunks, ended at %" PRIu64,
			  size, bad, pos);
		CHECK_INT(reqs, (size + 4095) / 4096);
	}
}

int
main(void)
{
	test_table();
	test_length_limit();
	test_chunks_cover_file();
	return check_done();
}
