/* Fuzz target for redact, the log's output core (it reads every client byte
 * that reaches a log line).
 *
 * The input is a log line (any bytes). Properties checked, else abort():
 *  - rendered for the log, the output has no control byte and is valid UTF-8,
 *    and stays within the size it was given;
 *  - rendered for JSON, the output is valid UTF-8;
 *  - a registered secret never appears in either output (its bytes contain no
 *    backslash, so no escape can make it up);
 *  - the input embedded as the value of an "apikey" member, after mapping it to
 *    bytes that cannot end a JSON string, renders as exactly
 *    {"apikey":"<redacted>"}.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "hunter2hunter2"
#define OUT_MAX 512

static void
check_utf8(const char *out, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t l = redact_utf8_len((const unsigned char *)out + i, n - i);

		if (!l)
			abort();
		i += l;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct redact_set set;
	static char out[OUT_MAX + 4];
	unsigned char *mask;
	char *line;
	size_t n;

	if (size > 65536)
		return 0;
	if (!set.n && redact_set_add(&set, SECRET, strlen(SECRET)) < 0)
		abort();
	mask = calloc(1, size + 64);
	line = malloc(size + 64);
	if (!mask || !line)
		abort();

	memcpy(line, data, size);
	for (unsigned flags = 0; flags <= REDACT_ESCAPE_CONTROL; flags += REDACT_ESCAPE_CONTROL) {
		memset(mask, 0, size);
		redact_mark_secrets(&set, line, size, mask);
		redact_mark_apikeys(line, size, mask);
		n = redact_render(line, size, mask, size, OUT_MAX, flags, out);
		if (n != strlen(out) || n > OUT_MAX + 3)
			abort();
		check_utf8(out, n);
		if (strstr(out, SECRET))
			abort();
		for (size_t i = 0; flags && i < n; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				abort();
	}

	/* {"apikey":"<value>"} with a value of bytes other than '"' and '\\'. */
	if (size > OUT_MAX)
		size = OUT_MAX;
	memcpy(line, "{\"apikey\":\"", 11);
	for (size_t i = 0; i < size; i++)
		line[11 + i] = data[i] == '"' || data[i] == '\\' ? 'q' : (char)data[i];
	memcpy(line + 11 + size, "\"}", 2);
	n = 11 + size + 2;
	memset(mask, 0, n);
	redact_mark_apikeys(line, n, mask);
	redact_render(line, n, mask, n, OUT_MAX, REDACT_ESCAPE_CONTROL, out);
	if (strcmp(out, size ? "{\"apikey\":\"<redacted>\"}" : "{\"apikey\":\"\"}") != 0)
		abort();
	free(mask);
	free(line);
	return 0;
}
