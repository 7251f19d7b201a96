/* diyfile: load the DIY route's image from a file and report it (the I/O shell around
 * diyimage.h). The file is opened O_NOFOLLOW, must be a regular file, and is refused before
 * any allocation when larger than DIYIMAGE_MAX (with the gzip rule named instead when it is a
 * gzip file, so the user learns the actionable cause). No logging: results come back as
 * values and "<path>: <rule>: <detail>" in err.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diyimage.h"

struct diyfile {
	char *path;             /* as given (owned) */
	uint8_t *data;          /* the bytes to serve (owned) */
	size_t size;
	struct image_info info; /* header, sha256_hex for ota_flash */
};

/* Load and check path. 0 with *ret filled (release with diyfile_free()), or -ENOENT,
 * -ELOOP (a symbolic link), -EINVAL (not a regular file, or an image rule: *ret_rule says
 * which), -EFBIG (too large), -EIO (changed while read), -ENOMEM; *ret untouched then.
 * *ret_rule is DIYIMAGE_OK unless an image rule failed. */
int diyfile_load(const char *path, struct diyfile *ret, enum diyimage_rule *ret_rule, char *err,
		 size_t errlen);

/* Free what diyfile_load() allocated; NULL-safe, leaves f zeroed. */
void diyfile_free(struct diyfile *f);

/* The --check-images lines for one DIY image:
 *   "diy <path>: ok, <N> bytes, flash mode DOUT, sha256 <hex>"   (+ one line per warning)
 *   "diy <path>: INVALID: <rule>: <detail>"
 * Returns 0 when valid, -errno otherwise (as diyfile_load). */
int diyfile_report(FILE *out, const char *path);
