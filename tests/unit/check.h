/* A tiny assertion helper for the unit tests (in the spirit of redis' testhelp.h).
 *
 * CHECK*() record a failure and go on, so one run reports every broken row of a
 * table. check_done() prints "N passed, M failed" and returns the exit status.
 */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned check_passed, check_failed;

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#define CHECK(cond) CHECK_MSG((cond), "%s", #cond)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		CHECK_MSG(g_ == w_, "%s == %lld, want %lld", #got, g_, w_);                        \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		CHECK_MSG(g_ && w_ && strcmp(g_, w_) == 0, "%s == \"%s\", want \"%s\"", #got,       \
			  g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                 \
	} while (0)

static inline int
check_done(void)
{
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : (check_passed ? 0 : 1); /* a test that checked nothing fails */
}
