/* range: pure parsing of an HTTP Range header (RFC 7233 §2.1, single range). */
#pragma once

#include <stdint.h>

enum range_result {
	RANGE_NONE = 0,       /* no usable Range: serve the whole file with 200 */
	RANGE_OK = 1,         /* serve [*ret_off, *ret_off + *ret_len) with 206 */
	RANGE_UNSATISFIABLE,  /* 416 with "Content-Range: bytes * /size" */
};

#define RANGE_HEADER_MAX 256 /* longer headers are ignored (RANGE_NONE) */

/* Parse hdr (may be NULL) against a file of size bytes.
 *  "bytes=a-b": a <= b, b clamped to size-1; a >= size is unsatisfiable.
 *  "bytes=a-":  a to the end; a >= size is unsatisfiable.
 *  "bytes=-n":  the last n bytes (the whole file if n > size); n == 0 is unsatisfiable.
 * A malformed header, another unit or several ranges give RANGE_NONE, as RFC 7233
 * allows a server to ignore them. For a size 0 file every range is unsatisfiable.
 * ret_off and ret_len are written only for RANGE_OK. */
enum range_result range_parse(const char *hdr, uint64_t size, uint64_t *ret_off,
			      uint64_t *ret_len);
