/* Unit tests of src/diyfile.c: loading the DIY image from disk (files from the mkimage tool,
 * $SONOTA_TEST_MKIMAGE) and the --check-images lines.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "diyfile.h"

static char dir[] = "/tmp/test-diyfile-XXXXXX";
static const char *mkimage;

static void
path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void
mk(const char *name, const char *mode)
{
	char cmd[1024], p[512];

	path_of(p, sizeof(p), name);
	snprintf(cmd, sizeof(cmd), "%s arduino --mode %s --size 482432 -o %s", mkimage, mode, p);
	CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

static void
raw(const char *name, uint8_t b0, uint8_t b1, size_t size)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "wb");
	if (!f)
		return;
	fputc(b0, f);
	fputc(b1, f);
	for (size_t i = 2; i < size; i++)
		fputc((int)(i & 0xFF), f);
	fclose(f);
}

static void
test_load(void)
{
	static const struct {
		const char *name;
		int ret;
		enum diyimage_rule rule;
		const char *in_err;
	} t[] = {
		{ "good.bin", 0, DIYIMAGE_OK, NULL },
		{ "qio.bin", -EINVAL, DIYIMAGE_MODE, "mode:" },
		{ "tasmota-minimal.bin", -EINVAL, DIYIMAGE_MINIMAL, "minimal:" },
		{ "big.bin", -EFBIG, DIYIMAGE_TOO_LARGE, "too-large:" },
		{ "big.bin.gz", -EINVAL, DIYIMAGE_GZIP, "gzip:" },
		{ "small.bin.gz", -EINVAL, DIYIMAGE_GZIP, "gzip:" },
		{ "missing.bin", -ENOENT, DIYIMAGE_OK, "missing" },
		{ "link.bin", -ELOOP, DIYIMAGE_OK, "symbolic link" },
		{ "subdir", -EINVAL, DIYIMAGE_OK, "not a regular file" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char p[512], err[512] = "";
		struct diyfile f;
		enum diyimage_rule rule = _DIYIMAGE_RULE_MAX;
		int r;

		path_of(p, sizeof(p), t[i].name);
		memset(&f, 0, sizeof(f));
		r = diyfile_load(p, &f, &rule, err, sizeof(err));
		CHECK_MSG(r == t[i].ret && rule == t[i].rule, "%s: %d %s (%s)", t[i].name, r,
			  diyimage_rule_name(rule), err);
		if (t[i].in_err)
			CHECK_MSG(strstr(err, t[i].in_err) && !strncmp(err, p, strlen(p)),
				  "%s: err '%s'", t[i].name, err);
		if (r == 0) {
			CHECK(f.size == 482432 && f.data && f.data[0] == 0xE9);
			CHECK_STR(f.path, p);
			CHECK_INT(strlen(f.info.sha256_hex), 64);
		}
		diyfile_free(&f);
		CHECK(f.data == NULL && f.path == NULL);
	}
	diyfile_free(NULL);
}

static void
test_report(void)
{
	char p[512], *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	path_of(p, sizeof(p), "good.bin");
	CHECK_INT(diyfile_report(out, p), 0);
	path_of(p, sizeof(p), "big.bin.gz");
	CHECK_INT(diyfile_report(out, p), -EINVAL);
	fclose(out);
	CHECK_MSG(strstr(buf, "good.bin: ok, 482432 bytes, flash mode DOUT, sha256 ") != NULL, "%s",
		  buf);
	CHECK_MSG(strstr(buf, "big.bin.gz: INVALID: gzip: ") != NULL, "%s", buf);
	CHECK_MSG(!strstr(buf, "INVALID: /tmp"), "path printed twice: %s", buf);
	free(buf);
}

int
main(void)
{
	char p[512], q[512];

	mkimage = getenv("SONOTA_TEST_MKIMAGE");
	if (!mkimage || !mkdtemp(dir)) {
		fprintf(stderr, "SONOTA_TEST_MKIMAGE must name the mkimage tool\n");
		return 1;
	}
	mk("good.bin", "dout");
	mk("qio.bin", "qio");
	mk("tasmota-minimal.bin", "dout");
	raw("big.bin", 0xE9, 0x01, 600000);
	raw("big.bin.gz", 0x1F, 0x8B, 600000);
	raw("small.bin.gz", 0x1F, 0x8B, 300000);
	path_of(p, sizeof(p), "good.bin");
	path_of(q, sizeof(q), "link.bin");
	CHECK_INT(symlink(p, q), 0);
	path_of(q, sizeof(q), "subdir");
	CHECK_INT(mkdir(q, 0700), 0);

	test_load();
	test_report();

	snprintf(p, sizeof(p), "rm -rf %s", dir);
	(void)!system(p);
	return check_done();
}
