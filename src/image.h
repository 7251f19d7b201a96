/* image: pure validation of ESP8266 firmware images (PROTOCOL.md §6, rules of §6.8).
 *
 * Two checks, one per role:
 *   image_check_user()    image_user1-0x01000.bin / image_user2-0x81000.bin: a v2 (0xEA)
 *                         OTA image for one 512 KB slot of a 1 MB flash;
 *   image_check_arduino() image_arduino.bin: an eboot v1 (0xE9) image at 0 and a v1 app
 *                         image at 0x1000, written over the whole first half of the flash.
 * No I/O, no logging, no allocation. A failure returns -EINVAL (or -EFBIG when the image is
 * too large) and writes "<rule>: <detail>" into err; the rule names are listed in
 * docs/images.md and are stable (tests match on them). Non-fatal findings come back as
 * bits of image_info.warnings (enum image_warning), readable with image_warning_text().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_MIN 4096              /* E2A refuses a Content-Length below 4096 (§5.3) */
#define IMAGE_USER_MAX 503808       /* 0x7B000: one OTA slot of the 1 MB map (§6.4) */
#define IMAGE_ARDUINO_MAX 524288    /* 0x80000: E2A's ROM1 region, 0x0-0x80000 (§5.3) */
#define IMAGE_APP_OFFSET 0x1000     /* the Arduino app follows the 4 KB eboot sector */
#define IMAGE_SEGMENTS_MAX 16       /* esptool refuses more: "usually a linker script problem" */
#define IMAGE_ERR_MAX 192           /* enough for every message of this module */

#define IMAGE_MAGIC_V1 0xE9         /* ROM-loadable image; also the second header of a v2 */
#define IMAGE_MAGIC_V2 0xEA         /* Espressif OTA image (user1/user2) */
#define IMAGE_V2_CONST 0x04         /* byte 1 of a v2 header: a constant, not a count */
#define IMAGE_CHECKSUM_SEED 0xEF    /* checksum = 0xEF ^ every byte of the summed segments */

enum image_flash_mode {
	IMAGE_MODE_QIO = 0,
	IMAGE_MODE_QOUT = 1,
	IMAGE_MODE_DIO = 2,
	IMAGE_MODE_DOUT = 3,
};

#define IMAGE_SIZE_1MB 0x2          /* size nibble (high nibble of size/freq) of a 1 MB flash */

enum image_format {
	IMAGE_FMT_NONE = 0,
	IMAGE_FMT_V1,   /* image_arduino.bin: eboot v1 + app v1 */
	IMAGE_FMT_V2,   /* user1/user2 */
};

/* Non-fatal findings, one bit each in image_info.warnings. */
enum image_warning {
	IMAGE_WARN_MODE_NOT_DOUT = 1u << 0, /* user image flash mode is not DOUT (§6.7) */
	IMAGE_WARN_FREQ = 1u << 1,          /* flash frequency is not 40 or 20 MHz */
	IMAGE_WARN_ENTRY_MISMATCH = 1u << 2, /* v2: the two headers' entry points differ */
	IMAGE_WARN_IROM_ADDR = 1u << 3,     /* v2: irom segment address is not 0 as esptool writes */
	IMAGE_WARN_IROM_ALIGN = 1u << 4,    /* v2: irom length not a multiple of 16 */
	IMAGE_WARN_EBOOT_MODE = 1u << 5,    /* arduino: eboot flash mode is not DOUT */
	IMAGE_WARN_EBOOT_SIZE = 1u << 6,    /* arduino: eboot size nibble is not 1 MB */
	IMAGE_WARN_TRAILER = 1u << 7,       /* arduino: bytes after the app's checksum */
	_IMAGE_WARN_COUNT = 8,              /* number of warning bits */
};

struct image_info {
	enum image_format fmt;   /* IMAGE_FMT_V2 (user) or IMAGE_FMT_V1 (arduino) */
	size_t size;             /* file length in bytes */
	uint8_t flash_mode;      /* mode byte (0..3); for arduino the eboot's, which the ROM uses */
	uint8_t size_freq;       /* size nibble << 4 | freq nibble; arduino: the eboot's */
	uint32_t entry;          /* entry point: v2 second header; arduino: the app's */
	unsigned nsegs;          /* v2: RAM segments (irom not counted); arduino: app segments */
	uint32_t irom_len;       /* v2: irom0 segment length; arduino: 0 */
	uint8_t checksum;        /* stored checksum byte (v2: RAM segments; arduino: the app's) */
	bool has_crc;            /* v2: an esptool CRC trailer was present and verified */
	uint32_t crc;            /* v2: the stored CRC value when has_crc */
	unsigned eboot_nsegs;    /* arduino: eboot segments */
	uint32_t eboot_entry;    /* arduino: eboot entry point */
	uint8_t app_flash_mode;  /* arduino: mode byte of the app header at 0x1000 */
	uint8_t app_size_freq;   /* arduino: size/freq byte of the app header */
	unsigned warnings;       /* enum image_warning bits */
	uint8_t sha256[32];      /* SHA-256 of all size bytes (the `digest` sent to the device) */
	char sha256_hex[65];     /* the same, lower-case hex, NUL-terminated */
};

/* Validate a user1/user2 v2 image (§6.3, §6.8). 0 and *ret filled, or -EINVAL/-EFBIG with
 * "<rule>: <detail>" in err; *ret is written only on success. */
int image_check_user(const uint8_t *buf, size_t len, struct image_info *ret, char *err,
		     size_t errlen);

/* Validate image_arduino.bin: eboot v1 at 0, app v1 at 0x1000 (§6.2, §6.5, §6.8). Same
 * return convention as image_check_user(). */
int image_check_arduino(const uint8_t *buf, size_t len, struct image_info *ret, char *err,
			size_t errlen);

/* Static text for one warning bit (e.g. IMAGE_WARN_FREQ); "unknown warning" otherwise. */
const char *image_warning_text(unsigned bit);

/* "QIO", "QOUT", "DIO", "DOUT", or "invalid" for a byte above 3. */
const char *image_flash_mode_name(uint8_t mode);

/* Parse "qio"/"qout"/"dio"/"dout" (any case) into a mode byte: 0 or -EINVAL. */
int image_flash_mode_parse(const char *s, uint8_t *ret);

/* "1MB", "512KB", ... for a size nibble; "invalid" for a value esptool does not define. */
const char *image_flash_size_name(uint8_t size_freq);

/* "40MHz", "26MHz", "20MHz", "80MHz", or "invalid" for the low nibble of size_freq. */
const char *image_flash_freq_name(uint8_t size_freq);

/* SHA-256 of buf into out and (if hex != NULL) lower-case hex into hex[65]. */
void image_sha256(const uint8_t *buf, size_t len, uint8_t out[32], char hex[65]);

/* esptool's esp8266_crc32(): c = CRC-32 (IEEE) of buf; c ^ 0xFFFFFFFF if bit 31 of c is set,
 * else c + 1 (§6.3 item 5). This is the value stored little-endian after a v2 image. */
uint32_t image_esp_crc32(const uint8_t *buf, size_t len);

/* Plain CRC-32 (IEEE 802.3, as zlib's crc32(0, buf, len)). */
uint32_t image_crc32(const uint8_t *buf, size_t len);
