/* diyfile: see diyfile.h. The reading follows imageset.c's read_bounded() (a static function
 * there, so not reusable from here): bounded before allocating, regular files only, and a
 * file that grows or shrinks while read is refused. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diyfile.h"
#include "util.h"

/* Read exactly n bytes at the start of fd; 0, or -errno / -EIO when the file is shorter. */
static int
read_all(int fd, uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, buf + off, n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		off += (size_t)r;
	}
	return 0;
}

int
diyfile_load(const char *path, struct diyfile *ret, enum diyimage_rule *ret_rule, char *err,
	     size_t errlen)
{
	char detail[IMAGE_ERR_MAX + 64];
	struct diyfile f = { 0 };
	struct stat st;
	uint8_t extra;
	ssize_t n;
	int fd, r;

	*ret_rule = DIYIMAGE_OK;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s: %s", path,
		            r == -ENOENT  ? "missing"
		            : r == -ELOOP ? "is a symbolic link; give the file itself"
		                          : strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		util_seterr(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > DIYIMAGE_MAX) {
		uint8_t head[2];

		/* Name the cause the user can act on: a .bin.gz is "gzip", not "too-large". */
		r = read_all(fd, head, sizeof(head));
		r = diyimage_check(head, r == 0 ? sizeof(head) : 0, path, &f.info, ret_rule, detail,
				   sizeof(detail));
		if (*ret_rule != DIYIMAGE_GZIP) {
			*ret_rule = DIYIMAGE_TOO_LARGE;
			util_seterr(detail, sizeof(detail),
			            "too-large: %jd bytes, the DIY firmware "
			            "takes at most %d (508 KB); use a smaller build such as "
			            "tasmota-lite.bin",
			            (intmax_t)st.st_size, DIYIMAGE_MAX);
		}
		util_seterr(err, errlen, "%s: %s", path, detail);
		r = *ret_rule == DIYIMAGE_GZIP ? -EINVAL : -EFBIG;
		goto out;
	}
	f.size = (size_t)st.st_size;
	f.data = malloc(f.size ? f.size : 1);
	f.path = strdup(path);
	if (!f.data || !f.path) {
		r = -ENOMEM;
		util_seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	r = read_all(fd, f.data, f.size);
	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (r < 0 || n != 0) {
		util_seterr(err, errlen, "%s: changed while being read", path);
		r = -EIO;
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
	close(fd);
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
