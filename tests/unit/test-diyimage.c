/* Unit tests of src/diyimage.c: each rule of the DIY route (DIY-PROTOCOL.md §5.6) refuses
 * what it must and names itself; a good image passes. Images are synthetic v1 layouts built
 * here (eboot at 0, app at 0x1000), never third-party bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diyimage.h"

#define APP 0x1000

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One v1 image at off: one segment of len bytes (filled from data/pattern); returns the
 * offset after its checksum byte. */
static size_t
v1(uint8_t *img, size_t off, uint8_t mode, uint32_t entry, uint32_t addr, size_t len,
   const char *text)
{
	uint8_t sum = 0xEF;
	size_t d = off + 16;

	img[off] = 0xE9;
	img[off + 1] = 1;
	img[off + 2] = mode;
	img[off + 3] = 0x20; /* 1 MB, 40 MHz */
	put32(img + off + 4, entry);
	put32(img + off + 8, addr);
	put32(img + off + 12, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		img[d + i] = (uint8_t)(i * 7 + 3);
	if (text) { /* a string of its own, as in flash: NUL before and after */
		img[d + len / 2 - 1] = 0;
		memcpy(img + d + len / 2, text, strlen(text) + 1);
	}
	for (size_t i = 0; i < len; i++)
		sum ^= img[d + i];
	d = (d + len) | 15;
	img[d] = sum;
	return d + 1;
}

/* A synthetic "plain ESP8266 image" of exactly size bytes (multiple of 16, >= 0x1030). */
static uint8_t *
make(size_t size, uint8_t mode, const char *text)
{
	uint8_t *img = calloc(1, size);
	size_t e;

	if (!img)
		abort();
	e = v1(img, 0, mode, 0x4010F000u, 0x4010F000u, 0x40, NULL);
	memset(img + e, 0xAA, APP - e);
	e = v1(img, APP, mode, 0x40100004u, 0x40100000u, size - APP - 0x20, text);
	if (e != size)
		abort();
	return img;
}

struct rcase {
	const char *name;
	size_t size;
	uint8_t mode;
	const char *text;        /* put into the app segment */
	const char *file;        /* name given by the user */
	void (*mutate)(uint8_t *img, size_t *len);
	int ret;
	enum diyimage_rule rule;
};

static void
gzip_head(uint8_t *img, size_t *len)
{
	(void)len;
	img[0] = 0x1F;
	img[1] = 0x8B;
	img[2] = 8;
}

static void
v2_magic(uint8_t *img, size_t *len)
{
	(void)len;
	img[0] = 0xEA;
}

static void
erased(uint8_t *img, size_t *len)
{
	(void)len;
	img[0] = 0xFF;
}

static void
bad_checksum(uint8_t *img, size_t *len)
{
	img[*len - 1] ^= 1;
}

static const struct rcase cases[] = {
	{ "good DOUT image", 480000, IMAGE_MODE_DOUT, "tasmota", "tasmota-lite.bin", NULL, 0,
	  DIYIMAGE_OK },
	{ "at the limit", DIYIMAGE_MAX, IMAGE_MODE_DOUT, NULL, NULL, NULL, 0, DIYIMAGE_OK },
	{ "one 16-byte step over", DIYIMAGE_MAX + 16, IMAGE_MODE_DOUT, NULL, NULL, NULL, -EFBIG,
	  DIYIMAGE_TOO_LARGE },
	{ "0x7F000: the inferred device limit, still refused", 520192, IMAGE_MODE_DOUT, NULL,
	  NULL, NULL, -EFBIG, DIYIMAGE_TOO_LARGE },
	{ "gzip", 480000, IMAGE_MODE_DOUT, NULL, "tasmota-lite.bin.gz", gzip_head, -EINVAL,
	  DIYIMAGE_GZIP },
	{ "user1/user2 image", 480000, IMAGE_MODE_DOUT, NULL, NULL, v2_magic, -EINVAL,
	  DIYIMAGE_MAGIC },
	{ "erased flash", 480000, IMAGE_MODE_DOUT, NULL, NULL, erased, -EINVAL, DIYIMAGE_MAGIC },
	{ "QIO", 480000, IMAGE_MODE_QIO, NULL, NULL, NULL, -EINVAL, DIYIMAGE_MODE },
	{ "DIO", 480000, IMAGE_MODE_DIO, NULL, NULL, NULL, -EINVAL, DIYIMAGE_MODE },
	{ "bad checksum", 480000, IMAGE_MODE_DOUT, NULL, NULL, bad_checksum, -EINVAL,
	  DIYIMAGE_STRUCTURE },
	{ "minimal by its code-image string", 400000, IMAGE_MODE_DOUT, "minimal", "fw.bin", NULL,
	  -EINVAL, DIYIMAGE_MINIMAL },
	{ "minimal by its name", 400000, IMAGE_MODE_DOUT, NULL, "/tmp/Tasmota-MINIMAL.bin", NULL,
	  -EINVAL, DIYIMAGE_MINIMAL },
	{ "\"minimal\" inside a longer string is not the mark", 400000, IMAGE_MODE_DOUT,
	  "%s-minimal%s", "tasmota.bin", NULL, 0, DIYIMAGE_OK },
	{ "\"minimal\" in a directory name only", 400000, IMAGE_MODE_DOUT, NULL,
	  "/srv/minimal/tasmota-lite.bin", NULL, 0, DIYIMAGE_OK },
};

static void
test_rules(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		size_t len = c->size;
		uint8_t *img = make(len, c->mode, c->text);
		struct image_info info;
		enum diyimage_rule rule = _DIYIMAGE_RULE_MAX;
		char err[256] = "";
		int r;

		if (c->mutate)
			c->mutate(img, &len);
		memset(&info, 0, sizeof(info));
		r = diyimage_check(img, len, c->file, &info, &rule, err, sizeof(err));
		CHECK_MSG(r == c->ret && rule == c->rule, "%s: ret %d rule %s (%s), want %d %s",
			  c->name, r, diyimage_rule_name(rule), err, c->ret,
			  diyimage_rule_name(c->rule));
		if (r == 0) {
			CHECK_MSG(info.size == len && strlen(info.sha256_hex) == 64, "%s: info",
				  c->name);
		} else {
			const char *name = diyimage_rule_name(c->rule);

			/* "<rule>: <detail>" */
			CHECK_MSG(strncmp(err, name, strlen(name)) == 0 && err[strlen(name)] == ':',
				  "%s: message '%s'", c->name, err);
		}
		free(img);
	}
}

static void
test_edges(void)
{
	struct image_info info;
	enum diyimage_rule rule;
	char err[256];
	uint8_t b[4] = { 0x1F };

	CHECK_INT(diyimage_check(b, 0, NULL, &info, &rule, err, sizeof(err)), -EINVAL);
	CHECK_INT(rule, DIYIMAGE_MAGIC);
	CHECK_INT(diyimage_check(b, 1, NULL, &info, &rule, err, sizeof(err)), -EINVAL);
	CHECK_INT(rule, DIYIMAGE_MAGIC);
	b[0] = 0xE9;
	CHECK_INT(diyimage_check(b, 4, NULL, &info, &rule, err, sizeof(err)), -EINVAL);
	CHECK_INT(rule, DIYIMAGE_STRUCTURE);
	CHECK_STR(diyimage_rule_name(DIYIMAGE_OK), "ok");
	CHECK_STR(diyimage_rule_name(_DIYIMAGE_RULE_MAX), "unknown");
}

int
main(void)
{
	test_rules();
	test_edges();
	return check_done();
}
