/* Fuzz target for the DIY image rules (diyimage_check): the image is a user's file. The
 * input is checked as it is and with a valid-looking v1 head forced on, so the deeper rules
 * (structure, mode, minimal) are reached. Invariants (abort on violation): the failed rule's
 * name starts the message; success implies magic 0xE9, DOUT and a size within DIYIMAGE_MAX.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diyimage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one(const uint8_t *buf, size_t len)
{
	struct image_info info;
	enum diyimage_rule rule;
	char err[256];
	int r;

	err[0] = '\0';
	r = diyimage_check(buf, len, "fuzz.bin", &info, &rule, err, sizeof(err));
	if (r == 0) {
		if (rule != DIYIMAGE_OK || buf[0] != 0xE9 || buf[2] != IMAGE_MODE_DOUT ||
		    len > DIYIMAGE_MAX || info.size != len)
			abort();
		return;
	}
	{
		const char *name = diyimage_rule_name(rule);

		if (rule == DIYIMAGE_OK || strncmp(err, name, strlen(name)) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	one(data, size);
	if (size < 4)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[0] = 0xE9;
	copy[2] = IMAGE_MODE_DOUT;
	one(copy, size);
	free(copy);
	return 0;
}
