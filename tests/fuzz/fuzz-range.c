/* Fuzz target for range_parse().
 *
 * Input layout: the first 8 bytes (little-endian, zero-padded when shorter) are the
 * file size; the rest is the header text, cut at the first NUL. Every RANGE_OK
 * answer must lie inside the file and be non-empty; anything else aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fsize = 0, off = 0, len = 0;
	size_t n = size < 8 ? size : 8;
	char *hdr;

	for (size_t i = 0; i < n; i++)
		fsize |= (uint64_t)data[i] << (8 * i);
	/* Mostly small sizes, so the interesting boundaries are reachable: the top bit
	 * of the first byte chooses the full 64-bit value. */
	if (!(n && (data[0] & 0x80)))
		fsize &= 0xfffff;

	hdr = malloc(size - n + 1);
	if (!hdr)
		return 0;
	memcpy(hdr, data + n, size - n);
	hdr[size - n] = '\0';

	switch (range_parse(hdr, fsize, &off, &len)) {
	case RANGE_OK:
		if (len == 0 || off >= fsize || len > fsize - off)
			abort();
		break;
	case RANGE_NONE:
	case RANGE_UNSATISFIABLE:
		break;
	default:
		abort();
	}
	range_parse(NULL, fsize, &off, &len);
	free(hdr);
	return 0;
}
