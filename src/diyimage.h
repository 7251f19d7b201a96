/* diyimage: the image rules of the DIY route (DIY-PROTOCOL.md §5.6, §6 row 6), checked
 * before anything is sent to a device in DIY mode.
 *
 * The DIY firmware (eWeLink 3.x) downloads one file and writes it, as it is, over the first
 * half of the 1 MB flash. What it accepts is therefore a plain ESP8266 Arduino image as
 * esptool writes it at 0x0 (eboot v1 at 0, app v1 at 0x1000, e.g. tasmota-lite.bin): the same
 * layout as image_arduino.bin of the old route, so the structure is checked by
 * image_check_arduino() (image.h). On top of it this module adds the rules of this route:
 *
 *   gzip      not a .bin.gz (bytes 1F 8B): the device writes it raw and bricks (T#8761);
 *   magic     byte 0 is 0xE9 (0xEA user1/user2 images are the old route's);
 *   too-large at most DIYIMAGE_MAX bytes (the documented 508 KB);
 *   structure image_check_arduino() accepts it (eboot, app header, segments, checksum);
 *   mode      the flash mode byte (byte 2) is DOUT, as ITEAD's own tool checks;
 *   minimal   not a Tasmota "minimal" build: it offers no WiFi setup, the device ends up
 *             unreachable and needs a serial flash (§5.6).
 *
 * The first rule that fails is returned (enum diyimage_rule) with "<rule>: <detail>" in err,
 * so `--check-images` can name it. Pure: no I/O, no logging, no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* "The maximum firmware size is 508KB" ([D14] §7). ITEAD's tool and others refuse
 * >= 508000; 520192 (0x7F000) is probably the true device limit (inferred, §5.6). We keep
 * the documented, proven-safe value: an image between the two is refused. */
#define DIYIMAGE_MAX 508000

/* Tasmota's minimal build carries its code-image name "minimal" as a string of its own
 * (CODE_IMAGE_STR, NUL-terminated in flash, preceded by the NUL of the string before it);
 * the other builds carry "tasmota", "lite", "sensors", ... instead. Full builds also hold
 * "minimal", but only inside a longer format string ("%s-minimal%s"), never NUL-delimited. */
#define DIYIMAGE_MINIMAL_MARK "\0minimal\0"
#define DIYIMAGE_MINIMAL_MARK_LEN 9

enum diyimage_rule {
	DIYIMAGE_OK = 0,
	DIYIMAGE_GZIP,      /* "gzip" */
	DIYIMAGE_MAGIC,     /* "magic" */
	DIYIMAGE_TOO_LARGE, /* "too-large" */
	DIYIMAGE_STRUCTURE, /* "structure" (detail: image_check_arduino's own rule) */
	DIYIMAGE_MODE,      /* "mode" */
	DIYIMAGE_MINIMAL,   /* "minimal" */
	_DIYIMAGE_RULE_MAX,
};

/* Check buf as an image for the DIY route. name is the file's name as the user gave it (may
 * be NULL): a base name containing "minimal" (any case) is refused like the marker above.
 * Returns 0 with *ret filled (sha256_hex is the digest for ota_flash), or -EINVAL / -EFBIG
 * (too large) with *ret_rule set to the failed rule and "<rule>: <detail>" in err. *ret is
 * written only on success; *ret_rule always (DIYIMAGE_OK on success). */
int diyimage_check(const uint8_t *buf, size_t len, const char *name, struct image_info *ret,
		   enum diyimage_rule *ret_rule, char *err, size_t errlen);

/* Stable rule name ("gzip", "magic", ...; "ok" for DIYIMAGE_OK; "unknown" otherwise). */
const char *diyimage_rule_name(enum diyimage_rule rule);
