/* diyfile: see diyfile.h. The reading is util_read_bounded(), shared with imageset.c:
 * bounded before allocating, regular files only, and a file that grows or shrinks while
 * read is refused. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diyfile.h"
#include "util.h"

#define DIYFILE_SNIFF 2 /* head bytes of an over-large file given to diyimage_check():
			 * gzip's magic, the one rule that names a better cause */

int
diyfile_load(const char *path, struct diyfile *ret, enum diyimage_rule *ret_rule, char *err,
	     size_t errlen)
{
	char detail[IMAGE_ERR_MAX + 64];
	struct diyfile f = { 0 };
	struct util_oversize big;
	int r;

	*ret_rule = DIYIMAGE_OK;
	r = util_read_bounded(path, DIYIMAGE_MAX, &f.data, &f.size, &big, err, errlen);
	if (r == -EFBIG) {
		/* Name the cause the user can act on: a .bin.gz is "gzip", not "too-large". */
		size_t sniff = big.head_len >= DIYFILE_SNIFF ? DIYFILE_SNIFF : 0;

		r = diyimage_check(big.head, sniff, path, &f.info, ret_rule, detail,
				   sizeof(detail));
		if (*ret_rule != DIYIMAGE_GZIP) {
			*ret_rule = DIYIMAGE_TOO_LARGE;
			util_seterr(detail, sizeof(detail),
			            "too-large: %jd bytes, the DIY firmware "
			            "takes at most %d (508 KB); use a smaller build such as "
			            "tasmota-lite.bin",
			            big.size, DIYIMAGE_MAX);
		}
		util_seterr(err, errlen, "%s: %s", path, detail);
		r = *ret_rule == DIYIMAGE_GZIP ? -EINVAL : -EFBIG;
		goto out;
	}
	if (r < 0)
		goto out;
	f.path = strdup(path);
	if (!f.path) {
		r = -ENOMEM;
		util_seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	r = diyimage_check(f.data, f.size, path, &f.info, ret_rule, detail, sizeof(detail));
	if (r < 0) {
		util_seterr(err, errlen, "%s: %s", path, detail);
		goto out;
	}
	*ret = f;
	memset(&f, 0, sizeof(f));
out:
	diyfile_free(&f);
	return r;
}

void
diyfile_free(struct diyfile *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

int
diyfile_report(FILE *out, const char *path)
{
	struct diyfile f;
	enum diyimage_rule rule;
	char err[IMAGE_ERR_MAX + 256];
	int r = diyfile_load(path, &f, &rule, err, sizeof(err));

	if (r < 0) {
		fprintf(out, "diy %s: INVALID: %s\n", path,
			/* err starts with "<path>: "; print the rest after the prefix */
			strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':'
				? err + strlen(path) + 2
				: err);
		return r;
	}
	fprintf(out, "diy %s: ok, %zu bytes, flash mode %s, sha256 %s\n", path, f.size,
		image_flash_mode_name(f.info.flash_mode), f.info.sha256_hex);
	for (unsigned bit = 1; bit < (1u << _IMAGE_WARN_COUNT); bit <<= 1)
		if (f.info.warnings & bit)
			fprintf(out, "diy %s: warning: %s\n", path, image_warning_text(bit));
	diyfile_free(&f);
	return 0;
}
