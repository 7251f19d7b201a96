/* diyimage: see diyimage.h. The rules and their order follow DIY-PROTOCOL.md §5.6 and the
 * field failures of §6 row 6; docs/diy.md lists them. The order makes each rule report the
 * cause a user can act on: a gzip file is named as gzip, not as "bad magic".
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "diyimage.h"
#include "util.h"

#define GZIP_ID1 0x1F /* RFC 1952 member header */
#define GZIP_ID2 0x8B

const char *
diyimage_rule_name(enum diyimage_rule rule)
{
	static const char *const names[_DIYIMAGE_RULE_MAX] = {
		[DIYIMAGE_OK] = "ok",
		[DIYIMAGE_GZIP] = "gzip",
		[DIYIMAGE_MAGIC] = "magic",
		[DIYIMAGE_TOO_LARGE] = "too-large",
		[DIYIMAGE_STRUCTURE] = "structure",
		[DIYIMAGE_MODE] = "mode",
		[DIYIMAGE_MINIMAL] = "minimal",
	};

	if ((unsigned)rule >= _DIYIMAGE_RULE_MAX)
		return "unknown";
	return names[rule];
}

/* The last path component of name, compared without case to "minimal". */
static bool
name_is_minimal(const char *name)
{
	const char *base, *p;
	size_t n = strlen("minimal");

	if (!name)
		return false;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (p = base; *p; p++)
		if (strncasecmp(p, "minimal", n) == 0)
			return true;
	return false;
}

static bool
has_minimal_mark(const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;

	/* memmem() is a GNU extension; the mark starts with a NUL, so memchr finds candidates. */
	while (end - p >= DIYIMAGE_MINIMAL_MARK_LEN) {
		p = memchr(p, '\0', (size_t)(end - p) - (DIYIMAGE_MINIMAL_MARK_LEN - 1));
		if (!p)
			return false;
		if (memcmp(p, DIYIMAGE_MINIMAL_MARK, DIYIMAGE_MINIMAL_MARK_LEN) == 0)
			return true;
		p++;
	}
	return false;
}

static int
fail(enum diyimage_rule rule, int r, enum diyimage_rule *ret_rule)
{
	*ret_rule = rule;
	return r;
}

int
diyimage_check(const uint8_t *buf, size_t len, const char *name, struct image_info *ret,
	       enum diyimage_rule *ret_rule, char *err, size_t errlen)
{
	char detail[IMAGE_ERR_MAX];
	struct image_info info;
	int r;

	*ret_rule = DIYIMAGE_OK;
	if (len >= 2 && buf[0] == GZIP_ID1 && buf[1] == GZIP_ID2) {
		util_seterr(
		    err, errlen,
		    "gzip: the file is gzip-compressed (.bin.gz); the DIY "
		    "firmware writes it unpacked and the device bricks, give the plain .bin");
		return fail(DIYIMAGE_GZIP, -EINVAL, ret_rule);
	}
	if (len == 0 || buf[0] != IMAGE_MAGIC_V1) {
		util_seterr(err, errlen, "magic: byte 0 is %s, want 0xE9 (a plain ESP8266 image as "
			    "esptool writes it at 0x0)%s",
			    len ? (buf[0] == IMAGE_MAGIC_V2 ? "0xEA" : "not 0xE9") : "missing",
			    len && buf[0] == IMAGE_MAGIC_V2
				    ? "; 0xEA is a user1/user2 OTA image of the old route"
				    : "");
		return fail(DIYIMAGE_MAGIC, -EINVAL, ret_rule);
	}
	if (len > DIYIMAGE_MAX) {
		util_seterr(err, errlen, "too-large: %zu bytes, the DIY firmware takes at most %d "
			    "(508 KB); use a smaller build such as tasmota-lite.bin", len,
			    DIYIMAGE_MAX);
		return fail(DIYIMAGE_TOO_LARGE, -EFBIG, ret_rule);
	}
	r = image_check_arduino(buf, len, &info, detail, sizeof(detail));
	if (r < 0) {
		util_seterr(err, errlen, "structure: %s", detail);
		return fail(DIYIMAGE_STRUCTURE, r == -EFBIG ? -EINVAL : r, ret_rule);
	}
	if (info.flash_mode != IMAGE_MODE_DOUT) {
		util_seterr(
		    err, errlen,
		    "mode: flash mode %s, the DIY route needs DOUT (the device "
		    "does not patch the header; Sonoffs with DOUT-only flash do not boot it)",
		    image_flash_mode_name(info.flash_mode));
		return fail(DIYIMAGE_MODE, -EINVAL, ret_rule);
	}
	if (name_is_minimal(name) || has_minimal_mark(buf, len)) {
		util_seterr(err, errlen, "minimal: a Tasmota minimal build offers no WiFi setup; "
			    "the device would end up unreachable until flashed over serial");
		return fail(DIYIMAGE_MINIMAL, -EINVAL, ret_rule);
	}
	*ret = info;
	return 0;
}
