/* The checks fuzz-proto asserts (proto-check.h) can fail: each bad text is caught
 * with its own error, good dialogues pass, and the sequence is carried over. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "proto-check.h"

int
main(void)
{
	static const struct {
		const char *text;
		int ret;
	} rows[] = {
		{ "{\"error\":0,\"apikey\":\"k\"}", 0 },
		{ "{\"action\":\"update\",\"sequence\":\"5\"}", 0 },
		{ "{\"error\":0", -EBADMSG },         /* truncated */
		{ "{\"error\":0}x", -EBADMSG },       /* trailing bytes */
		{ "{\"error\":0}\n{}", -EBADMSG },    /* two texts in one */
		{ "{'a':1}", -EBADMSG },              /* not JSON quoting */
		{ "", -EBADMSG },
		{ NULL, -EBADMSG },
		{ "[]", -EPROTO },
		{ "\"text\"", -EPROTO },
		{ "null", -EPROTO },
		{ "{\"sequence\":\"0\"}", -ERANGE },  /* not above the last (0) */
		{ "{\"sequence\":\"x1\"}", -ERANGE },
		{ "{\"sequence\":\"7z\"}", -ERANGE },
		{ "{\"sequence\":7}", 0 },            /* not a string: not a server sequence */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *t[1] = { (char *)rows[i].text };
		uint64_t seq = 0;
		int r = proto_check_texts(t, 1, &seq);

		CHECK_MSG(r == rows[i].ret, "row %zu \"%s\": %d, want %d", i,
			  rows[i].text ? rows[i].text : "(null)", r, rows[i].ret);
	}

	/* A dialogue: sequences must rise across texts and calls. */
	{
		char *good[] = { (char *)"{\"sequence\":\"10\"}", (char *)"{\"a\":1}",
				 (char *)"{\"sequence\":\"11\"}" };
		char *again[] = { (char *)"{\"sequence\":\"11\"}" };
		char *later_bad[] = { (char *)"{\"sequence\":\"12\"}", (char *)"{\"x\":" };
		uint64_t seq = 0;

		CHECK_INT(proto_check_texts(good, 3, &seq), 0);
		CHECK_INT((int)seq, 11);
		CHECK_INT(proto_check_texts(again, 1, &seq), -ERANGE);
		CHECK_INT(proto_check_texts(later_bad, 2, &seq), -EBADMSG);
		CHECK_INT(proto_check_texts(good, 0, &seq), 0);
	}
	return check_done();
}
