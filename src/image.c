/* image: pure validation of ESP8266 firmware images. See image.h and docs/images.md; the
 * formats are PROTOCOL.md §6.2/§6.3 and the rules §6.8. Every offset computation below is
 * done in size_t after checking that it cannot pass the end of the buffer, so a hostile
 * header can make us report an error but never read outside [buf, buf + len).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "image.h"
#include "util.h"

#define V1_HDR 8        /* [E9][n][mode][size/freq][entry u32] */
#define SEG_HDR 8       /* [load addr u32][len u32] */
#define V2_IROM_OFF 8   /* the irom segment header follows the 8-byte v2 header */
#define CRC_LEN 4       /* esptool's CRC trailer after a v2 image */

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

const char *
image_flash_mode_name(uint8_t mode)
{
	static const char *const names[] = { "QIO", "QOUT", "DIO", "DOUT" };

	return mode < 4 ? names[mode] : "invalid";
}

int
image_flash_mode_parse(const char *s, uint8_t *ret)
{
	for (uint8_t m = 0; m < 4; m++) {
		if (s && strcasecmp(s, image_flash_mode_name(m)) == 0) {
			*ret = m;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
image_flash_size_name(uint8_t size_freq)
{
	/* esptool's FLASH_SIZES for the ESP8266 (§6.1); 7 and 0xA-0xF are undefined. */
	static const char *const names[16] = {
		"512KB", "256KB", "1MB", "2MB", "4MB", "2MB-c1", "4MB-c1", NULL,
		"8MB", "16MB", NULL, NULL, NULL, NULL, NULL, NULL,
	};
	const char *n = names[size_freq >> 4];

	return n ? n : "invalid";
}

const char *
image_flash_freq_name(uint8_t size_freq)
{
	switch (size_freq & 0xF) {
	case 0x0: return "40MHz";
	case 0x1: return "26MHz";
	case 0x2: return "20MHz";
	case 0xF: return "80MHz";
	default: return "invalid";
	}
}

const char *
image_warning_text(unsigned bit)
{
	switch (bit) {
	case IMAGE_WARN_MODE_NOT_DOUT:
		return "flash mode is not DOUT; many newer Sonoffs (ESP8285, DOUT-only flash) "
		       "boot only DOUT images";
	case IMAGE_WARN_FREQ:
		return "flash frequency is neither 40 nor 20 MHz (every public set uses one of them)";
	case IMAGE_WARN_ENTRY_MISMATCH:
		return "the entry points of the v2 header and the embedded v1 header differ";
	case IMAGE_WARN_IROM_ADDR:
		return "irom segment address is not 0 (esptool always writes 0)";
	case IMAGE_WARN_IROM_ALIGN:
		return "irom segment length is not a multiple of 16 (esptool pads it to 16)";
	case IMAGE_WARN_EBOOT_MODE:
		return "eboot flash mode is not DOUT; the ROM uses it at every boot, and DOUT is "
		       "the one every Sonoff can read";
	case IMAGE_WARN_EBOOT_SIZE:
		return "eboot flash size is not 1MB, the flash of the Sonoffs this flow is for";
	case IMAGE_WARN_TRAILER:
		return "bytes follow the app's checksum (a signature?); they are written to flash "
		       "but not loaded";
	default:
		return "unknown warning";
	}
}

/* Plain CRC-32 (reflected polynomial 0xEDB88320), a nibble at a time: a 16-entry table is
 * fast enough for half a megabyte and needs no initialisation. */
uint32_t
image_crc32(const uint8_t *buf, size_t len)
{
	static const uint32_t tab[16] = {
		0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC,
		0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
		0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
		0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
	};
	uint32_t c = 0xFFFFFFFF;

	for (size_t i = 0; i < len; i++) {
		c ^= buf[i];
		c = (c >> 4) ^ tab[c & 0xF];
		c = (c >> 4) ^ tab[c & 0xF];
	}
	return ~c;
}

/* esptool.py esp8266_crc32(), checked against its source: crc = binascii.crc32(data, 0);
 * "crc ^ 0xFFFFFFFF if crc & 0x80000000 else crc + 1". No overflow: bit 31 is clear in the
 * second branch. */
uint32_t
image_esp_crc32(const uint8_t *buf, size_t len)
{
	uint32_t c = image_crc32(buf, len);

	return (c & 0x80000000u) ? c ^ 0xFFFFFFFFu : c + 1;
}

void
image_sha256(const uint8_t *buf, size_t len, uint8_t out[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	/* The software SHA-256 of mbedTLS cannot fail (only alternative hardware backends
	 * could), so the return value carries nothing. */
#if MBEDTLS_VERSION_MAJOR >= 3
	(void)mbedtls_sha256(buf, len, out, 0);
#else
	(void)mbedtls_sha256_ret(buf, len, out, 0);
#endif
	if (!hex)
		return;
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[out[i] >> 4];
		hex[2 * i + 1] = digits[out[i] & 0xF];
	}
	hex[64] = '\0';
}

/* One v1 image (header at hdr) walked up to its checksum byte. */
struct v1_walk {
	unsigned nsegs;     /* segment count from the header */
	size_t end;         /* offset just past the last segment's data */
	size_t csum_at;     /* offset of the checksum byte: first p >= end with p % 16 == 15 */
	uint8_t computed;   /* 0xEF ^ every data byte */
};

/* Walk the n segments of the v1 image whose header is at hdr, all of which must lie below
 * limit, and compute its checksum (PROTOCOL.md §6.2). part ("", "eboot-", "app-") prefixes
 * the rule names; what ("RAM segment", "segment") names the segments in messages. The
 * checksum's place is aligned on absolute file offsets, as esptool aligns its file position;
 * the app at 0x1000 is 16-aligned, so this is also app-relative. Caller has checked that the
 * 8 header bytes are below limit. */
static int
walk_v1(const uint8_t *buf, size_t limit, size_t hdr, const char *part, const char *what,
	const char *limit_name, struct v1_walk *ret, char *err, size_t errlen)
{
	unsigned n = buf[hdr + 1];
	size_t off = hdr + V1_HDR;
	uint8_t sum = IMAGE_CHECKSUM_SEED;

	if (n == 0 || n > IMAGE_SEGMENTS_MAX) {
		util_seterr(err, errlen, "%ssegments: header at 0x%zx declares %u segments, want 1-%d",
		       part, hdr, n, IMAGE_SEGMENTS_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (limit - off < SEG_HDR) {
			util_seterr(err, errlen, "%ssegment: %s %u header at 0x%zx runs past %s (0x%zx)",
			       part, what, i, off, limit_name, limit);
			return -EINVAL;
		}
		uint32_t addr = le32(buf + off), slen = le32(buf + off + 4);

		off += SEG_HDR;
		if (slen > limit - off) {
			util_seterr(err, errlen,
			       "%ssegment: %s %u (load 0x%08X, %u bytes at 0x%zx) runs past %s (0x%zx)",
			       part, what, i, addr, slen, off, limit_name, limit);
			return -EINVAL;
		}
		for (size_t j = 0; j < slen; j++)
			sum ^= buf[off + j];
		off += slen;
	}
	ret->nsegs = n;
	ret->end = off;
	ret->csum_at = off | 0xF;
	ret->computed = sum;
	if (ret->csum_at >= limit) {
		util_seterr(err, errlen,
		       "%struncated: checksum byte belongs at 0x%zx, past %s (0x%zx)",
		       part, ret->csum_at, limit_name, limit);
		return -EINVAL;
	}
	if (buf[ret->csum_at] != sum) {
		util_seterr(err, errlen, "%schecksum: stored 0x%02X, computed 0x%02X", part,
		       buf[ret->csum_at], sum);
		return -EINVAL;
	}
	return 0;
}

static unsigned
freq_warning(uint8_t size_freq)
{
	uint8_t f = size_freq & 0xF;

	return (f == 0x0 || f == 0x2) ? 0 : IMAGE_WARN_FREQ;
}

/* Length rules shared by both roles (§6.8 items 2). */
static int
check_length(size_t len, size_t max, const char *max_why, char *err, size_t errlen)
{
	if (len < IMAGE_MIN) {
		util_seterr(err, errlen, "too-small: %zu bytes, E2A refuses images below %d bytes", len,
		       IMAGE_MIN);
		return -EINVAL;
	}
	if (len > max) {
		util_seterr(err, errlen, "too-large: %zu bytes, %s holds at most %zu", len, max_why, max);
		return -EFBIG;
	}
	if (len % 4) {
		util_seterr(err, errlen,
		       "alignment: %zu bytes is not a multiple of 4 (E2A writes flash in words)",
		       len);
		return -EINVAL;
	}
	return 0;
}

static int
check_mode(uint8_t mode, const char *which, char *err, size_t errlen)
{
	if (mode <= IMAGE_MODE_DOUT)
		return 0;
	util_seterr(err, errlen, "mode: %s flash mode byte 0x%02X is not QIO/QOUT/DIO/DOUT (0-3)",
	       which, mode);
	return -EINVAL;
}

/* Contract: see image.h. The order of the checks is part of the contract: length bounds,
 * first header, irom segment, second header, RAM segments, checksum, trailer/CRC; each
 * mutation made by `mkimage break` is caught by the first rule it violates. */
int
image_check_user(const uint8_t *buf, size_t len, struct image_info *ret, char *err,
		 size_t errlen)
{
	struct image_info info = { .fmt = IMAGE_FMT_V2, .size = len };
	struct v1_walk w;
	int r;

	r = check_length(len, IMAGE_USER_MAX, "a 1 MB OTA slot (0x7B000)", err, errlen);
	if (r < 0)
		return r;
	if (buf[0] != IMAGE_MAGIC_V2) {
		util_seterr(err, errlen, "magic: byte 0 is 0x%02X, want 0xEA (v2 OTA image)%s", buf[0],
		       buf[0] == IMAGE_MAGIC_V1 ? "; 0xE9 is a v1 image such as image_arduino.bin"
						: "");
		return -EINVAL;
	}
	if (buf[1] != IMAGE_V2_CONST) {
		util_seterr(err, errlen, "v2-header: byte 1 is 0x%02X, want the constant 0x04", buf[1]);
		return -EINVAL;
	}
	info.flash_mode = buf[2];
	info.size_freq = buf[3];
	r = check_mode(info.flash_mode, "first header", err, errlen);
	if (r < 0)
		return r;
	/* The user images live in the 512 KB + 512 KB slots of a 1 MB flash, the only map E2A
	 * handles (it erases 0x80000-0xFFFFF and writes 0x0-0x80000). Size codes 0 and 1 put
	 * the second slot elsewhere, 5/6/8/9 use 1024 KB slots, and 3/4 make the SDK place its
	 * RF-calibration and system-parameter sectors past the end of a 1 MB chip. */
	if (info.size_freq >> 4 != IMAGE_SIZE_1MB) {
		util_seterr(err, errlen,
		       "flash-size: size code 0x%X (%s), want 0x2 (1MB); the image was built for "
		       "another flash map", info.size_freq >> 4, image_flash_size_name(info.size_freq));
		return -EINVAL;
	}
	info.warnings |= freq_warning(info.size_freq);
	if (info.flash_mode != IMAGE_MODE_DOUT)
		info.warnings |= IMAGE_WARN_MODE_NOT_DOUT;

	/* irom0 segment, not part of the checksum (§6.3 item 2). len >= 4096 keeps the fixed
	 * offsets below in the buffer. */
	uint32_t irom_addr = le32(buf + V2_IROM_OFF);

	info.irom_len = le32(buf + V2_IROM_OFF + 4);
	if (info.irom_len == 0) {
		util_seterr(err, errlen, "irom: the irom segment is empty");
		return -EINVAL;
	}
	if (info.irom_len % 4) {
		util_seterr(err, errlen, "irom: length %u is not a multiple of 4", info.irom_len);
		return -EINVAL;
	}
	size_t h2 = V2_IROM_OFF + SEG_HDR;

	if (info.irom_len > len - h2 || len - h2 - info.irom_len < V1_HDR) {
		util_seterr(err, errlen,
		       "irom: length %u leaves no room for the second header in a %zu-byte file",
		       info.irom_len, len);
		return -EINVAL;
	}
	if (irom_addr != 0)
		info.warnings |= IMAGE_WARN_IROM_ADDR;
	if (info.irom_len % 16)
		info.warnings |= IMAGE_WARN_IROM_ALIGN;
	h2 += info.irom_len;

	/* The embedded v1 header with the RAM segments (§6.3 item 3). */
	if (buf[h2] != IMAGE_MAGIC_V1) {
		util_seterr(err, errlen,
		       "header: no v1 header (0xE9) after the irom segment at 0x%zx, found 0x%02X",
		       h2, buf[h2]);
		return -EINVAL;
	}
	r = check_mode(buf[h2 + 2], "second header", err, errlen);
	if (r < 0)
		return r;
	if (buf[h2 + 2] != info.flash_mode || buf[h2 + 3] != info.size_freq) {
		util_seterr(err, errlen,
		       "mismatch: first header %s/0x%02X, second header %s/0x%02X (mode/size-freq "
		       "must agree)", image_flash_mode_name(info.flash_mode), info.size_freq,
		       image_flash_mode_name(buf[h2 + 2]), buf[h2 + 3]);
		return -EINVAL;
	}
	info.entry = le32(buf + h2 + 4);
	if (info.entry != le32(buf + 4))
		info.warnings |= IMAGE_WARN_ENTRY_MISMATCH;

	r = walk_v1(buf, len, h2, "", "RAM segment", "the end of the file", &w, err, errlen);
	if (r < 0)
		return r;
	info.nsegs = w.nsegs;
	info.checksum = buf[w.csum_at];

	/* What follows the checksum: nothing, or esptool's CRC over everything before it. */
	size_t body = w.csum_at + 1, trailer = len - body;

	if (trailer == CRC_LEN) {
		uint32_t stored = le32(buf + body), computed = image_esp_crc32(buf, body);

		if (stored != computed) {
			util_seterr(err, errlen, "crc: stored 0x%08X, computed 0x%08X", stored, computed);
			return -EINVAL;
		}
		info.has_crc = true;
		info.crc = stored;
	} else if (trailer != 0) {
		util_seterr(err, errlen,
		       "trailer: %zu bytes after the checksum at 0x%zx, want 0 or 4 (esptool's CRC)",
		       trailer, w.csum_at);
		return -EINVAL;
	}

	image_sha256(buf, len, info.sha256, info.sha256_hex);
	*ret = info;
	return 0;
}

/* Contract: see image.h. The eboot sector is written raw to flash 0x0 by E2A (§5.3), so its
 * header is what the ROM reads at every boot; the app at 0x1000 is what eboot loads. */
int
image_check_arduino(const uint8_t *buf, size_t len, struct image_info *ret, char *err,
		    size_t errlen)
{
	struct image_info info = { .fmt = IMAGE_FMT_V1, .size = len };
	struct v1_walk w;
	int r;

	r = check_length(len, IMAGE_ARDUINO_MAX, "E2A's ROM1 region (0x0-0x80000)", err, errlen);
	if (r < 0)
		return r;
	if (buf[0] != IMAGE_MAGIC_V1) {
		util_seterr(err, errlen, "magic: byte 0 is 0x%02X, want 0xE9 (v1 eboot image)%s", buf[0],
		       buf[0] == IMAGE_MAGIC_V2 ? "; 0xEA is a v2 OTA image such as a user1/user2 file"
						: "");
		return -EINVAL;
	}
	info.flash_mode = buf[2];
	info.size_freq = buf[3];
	info.eboot_entry = le32(buf + 4);
	r = check_mode(info.flash_mode, "eboot", err, errlen);
	if (r < 0)
		return r;
	r = walk_v1(buf, IMAGE_APP_OFFSET, 0, "eboot-", "segment", "the eboot sector",
		    &w, err, errlen);
	if (r < 0)
		return r;
	info.eboot_nsegs = w.nsegs;
	if (info.flash_mode != IMAGE_MODE_DOUT)
		info.warnings |= IMAGE_WARN_EBOOT_MODE;
	if (info.size_freq >> 4 != IMAGE_SIZE_1MB)
		info.warnings |= IMAGE_WARN_EBOOT_SIZE;
	info.warnings |= freq_warning(info.size_freq);

	/* The app. len >= 4096 and len % 4 == 0 were checked, so len - 0x1000 is exact. */
	if (len - IMAGE_APP_OFFSET < V1_HDR) {
		util_seterr(err, errlen, "app: the file ends at 0x%zx, before an app header at 0x%x",
		       len, IMAGE_APP_OFFSET);
		return -EINVAL;
	}
	if (buf[IMAGE_APP_OFFSET] != IMAGE_MAGIC_V1) {
		util_seterr(err, errlen, "app: no v1 app header (0xE9) at 0x%x, found 0x%02X",
		       IMAGE_APP_OFFSET, buf[IMAGE_APP_OFFSET]);
		return -EINVAL;
	}
	info.app_flash_mode = buf[IMAGE_APP_OFFSET + 2];
	info.app_size_freq = buf[IMAGE_APP_OFFSET + 3];
	info.entry = le32(buf + IMAGE_APP_OFFSET + 4);
	r = check_mode(info.app_flash_mode, "app", err, errlen);
	if (r < 0)
		return r;
	r = walk_v1(buf, len, IMAGE_APP_OFFSET, "app-", "segment", "the end of the file", &w,
		    err, errlen);
	if (r < 0)
		return r;
	info.nsegs = w.nsegs;
	info.checksum = buf[w.csum_at];
	if (w.csum_at + 1 != len)
		info.warnings |= IMAGE_WARN_TRAILER;

	image_sha256(buf, len, info.sha256, info.sha256_hex);
	*ret = info;
	return 0;
}
