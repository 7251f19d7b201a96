/* Fuzz target: src/httpresp.c parses the replies of whatever answers at 10.10.7.1.
 * The first byte chooses eof for the body decoder; the rest is the response. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpresp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpresp h;
	char err[128], body[1024];
	size_t blen;

	if (size < 1)
		return 0;
	bool eof = data[0] & 1;
	data++;
	size--;
	if (httpresp_parse(data, size, &h, err, sizeof(err)) != 0)
		return 0;
	if (h.header_len > size)
		__builtin_trap(); /* the head cannot end past the input */
	if (httpresp_body(data, size, eof, &h, body, sizeof(body), &blen, err, sizeof(err)) == 0 &&
	    (blen >= sizeof(body) || body[blen] != '\0'))
		__builtin_trap(); /* the body must fit and be NUL-terminated */
	return 0;
}
