/* Fuzz target: image_check_user() and image_check_arduino() on arbitrary bytes. Besides
 * "no crash, no out-of-bounds read" (ASan/UBSan), it checks the contract: a result is 0 or
 * a negative errno, err names a rule ("<rule>: ..."), and an accepted image has consistent
 * info. Seeds: tests/fuzz/corpus/image/ (small images written by mkimage).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int rc, const struct image_info *info, const char *err, size_t size,
      enum image_format fmt)
{
	if (rc < 0) {
		if (rc != -EINVAL && rc != -EFBIG)
			abort();
		if (!strstr(err, ": "))
			abort(); /* every failure names its rule */
		return;
	}
	if (rc != 0 || info->fmt != fmt || info->size != size || info->flash_mode > 3 ||
	    strlen(info->sha256_hex) != 64 || info->nsegs == 0 ||
	    info->nsegs > IMAGE_SEGMENTS_MAX || size % 4 || size < IMAGE_MIN)
		abort();
	for (unsigned bit = 1; bit < (1u << _IMAGE_WARN_COUNT); bit <<= 1)
		if ((info->warnings & bit) && !image_warning_text(bit)[0])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_info info;
	char err[IMAGE_ERR_MAX];
	int rc;

	err[0] = '\0';
	rc = image_check_user(data, size, &info, err, sizeof(err));
	check(rc, &info, err, size, IMAGE_FMT_V2);
	if (rc == 0 && size > IMAGE_USER_MAX)
		abort();

	err[0] = '\0';
	rc = image_check_arduino(data, size, &info, err, sizeof(err));
	check(rc, &info, err, size, IMAGE_FMT_V1);
	if (rc == 0 && size > IMAGE_ARDUINO_MAX)
		abort();
	return 0;
}
