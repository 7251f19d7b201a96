/* mkimage: writes SYNTHETIC ESP8266 images in the real formats for the tests, the demo and
 * the benchmark; with `break`, mutates a valid one into an invalid one that sonota-c must
 * refuse for one named rule. Content is pseudo-random from --seed, so every run with the
 * same arguments writes the same bytes. No third-party bytes: the images do not run on a
 * device, they only have the layout of one (PROTOCOL.md §6, docs/images.md).
 *
 *   mkimage user --slot 1|2 [--mode dout|dio|qio|qout] [--size N] [--size-freq 0xNN]
 *                [--seed S] [--crc] -o FILE
 *   mkimage arduino [--mode dout|...] [--size N] [--size-freq 0xNN] [--seed S] -o FILE
 *   mkimage set DIR [--size-user N] [--size-arduino N] [--seed S] [--crc]
 *   mkimage break CASE IN OUT
 *   mkimage break --list
 *
 * The tool is deliberately independent of src/image.c (its own layout code and CRC), so a
 * bug in the validator is not mirrored here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define USER_DEFAULT_SIZE 238752     /* the E2A user images of SonOTA 2017-10 .. 2018-09 */
#define ARDUINO_DEFAULT_SIZE 482432  /* SonOTA master's image_arduino.bin */
#define USER_MAX 503808              /* one OTA slot (0x7B000) */
#define ARDUINO_MAX 524288           /* 0x80000 */
#define MIN_IMAGE 4096               /* E2A's minimum Content-Length */
#define FILE_MAX (1u << 20)          /* largest input `break` reads */
#define APP_OFF 0x1000               /* app image inside image_arduino.bin */
#define EBOOT_SEG_LEN 0x540          /* our eboot's one segment (the real one is 0x568) */
#define ENTRY_APP 0x40100004u        /* entry point of SDK and Arduino apps */
#define ENTRY_EBOOT 0x4010F000u
#define ADDR_IRAM 0x40100000u
#define ADDR_DRAM 0x3FFE8000u
#define ADDR_IROM_ARDUINO 0x40201010u /* irom mapped at flash 0x1010 */
#define PAD_BEFORE_CSUM 11           /* zero bytes between the last segment and the checksum */

struct rng {
	uint64_t s;
};

/* splitmix64: tiny, deterministic, good enough for filler bytes. */
static uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void
rng_fill(struct rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next(r);

		for (size_t j = 0; j < 8 && i + j < n; j++)
			p[i + j] = (uint8_t)(v >> (8 * j));
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bitwise CRC-32 (IEEE), independent of image.c's table version. */
static uint32_t
crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* esptool's esp8266_crc32(). */
static uint32_t
esp_crc(const uint8_t *p, size_t n)
{
	uint32_t c = crc32_ieee(p, n);

	return (c & 0x80000000u) ? c ^ 0xFFFFFFFFu : c + 1;
}

static int
write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0) {
		fprintf(stderr, "mkimage: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mkimage: %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "mkimage: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static uint8_t *
read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	size_t n;

	if (!f) {
		fprintf(stderr, "mkimage: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	p = malloc(FILE_MAX + 1);
	if (!p) {
		fclose(f);
		return NULL;
	}
	n = fread(p, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n > FILE_MAX) {
		fprintf(stderr, "mkimage: %s: larger than %u bytes\n", path, FILE_MAX);
		free(p);
		return NULL;
	}
	*ret_len = n;
	return p;
}

/* Write one v1 segment (header + data from rng) at off; returns the offset after it and
 * folds the data into *sum. */
static size_t
put_segment(uint8_t *img, size_t off, uint32_t addr, size_t len, struct rng *r, uint8_t *sum)
{
	put32(img + off, addr);
	put32(img + off + 4, (uint32_t)len);
	rng_fill(r, img + off + 8, len);
	if (sum)
		for (size_t i = 0; i < len; i++)
			*sum ^= img[off + 8 + i];
	return off + 8 + len;
}

/* Split r RAM bytes (a multiple of 4, >= 12) into .text (iram), .data and .rodata. */
static void
split_ram(size_t r, size_t out[3])
{
	out[0] = (r * 5 / 8) & ~(size_t)3;
	if (out[0] < 4)
		out[0] = 4;
	out[1] = ((r - out[0]) / 3) & ~(size_t)3;
	if (out[1] < 4)
		out[1] = 4;
	out[2] = r - out[0] - out[1];
}

/* A v2 image of exactly size bytes (PROTOCOL.md §6.3):
 * [EA 04 mode sf entry][irom: addr 0, len L][E9 3 mode sf entry][3 RAM segments]
 * [11 zero bytes][checksum][CRC]. The checksum is the last byte of a 16-byte block, so
 * without CRC the size must be a multiple of 16, with CRC 4 more. */
static uint8_t *
make_user(size_t size, int slot, uint8_t mode, uint8_t size_freq, uint64_t seed, bool crc)
{
	size_t t = size - (crc ? 4 : 0), d, ram, irom, segs[3], off;
	struct rng r = { seed * 0x100000001B3ull + 0x5553455200ull + (uint64_t)slot };
	uint8_t sum = 0xEF, *img;

	if (size < 100 || t % 16) {
		fprintf(stderr, "mkimage: user image size %zu impossible: it must be a multiple of "
			"16%s, at least 96\n", size, crc ? " plus 4 (the CRC)" : "");
		return NULL;
	}
	d = t - PAD_BEFORE_CSUM - 1 - 8 - 8 - 8 - 3 * 8; /* irom + RAM data bytes */
	ram = d / 7;
	if (ram > 0x9000)
		ram = 0x9000;
	if (ram < 12)
		ram = 12;
	irom = (d - ram) & ~(size_t)15;
	if (irom < 16) {
		fprintf(stderr, "mkimage: user image size %zu too small for the layout\n", size);
		return NULL;
	}
	ram = d - irom;
	split_ram(ram, segs);

	img = calloc(1, size);
	if (!img)
		return NULL;
	img[0] = 0xEA;
	img[1] = 0x04;
	img[2] = mode;
	img[3] = size_freq;
	put32(img + 4, ENTRY_APP);
	off = put_segment(img, 8, 0, irom, &r, NULL); /* irom is outside the checksum */
	img[off] = 0xE9;
	img[off + 1] = 3;
	img[off + 2] = mode;
	img[off + 3] = size_freq;
	put32(img + off + 4, ENTRY_APP);
	off += 8;
	off = put_segment(img, off, ADDR_IRAM, segs[0], &r, &sum);
	off = put_segment(img, off, ADDR_DRAM, segs[1], &r, &sum);
	off = put_segment(img, off, ADDR_DRAM + (uint32_t)segs[1], segs[2], &r, &sum);
	off += PAD_BEFORE_CSUM;
	if (off != t - 1 || off % 16 != 15) {
		fprintf(stderr, "mkimage: internal layout error (checksum at %zu)\n", off);
		free(img);
		return NULL;
	}
	img[off] = sum;
	if (crc)
		put32(img + t, esp_crc(img, t));
	return img;
}

/* image_arduino.bin of exactly size bytes (PROTOCOL.md §6.5): eboot v1 (one segment at
 * 0x4010F000) padded with 0xAA to 0x1000, then an app v1 image with irom (0x40201010, so its
 * data sits at flash 0x1010), .text, .data, .rodata; the checksum covers all four. The size
 * must be a multiple of 16 (no trailer). */
static uint8_t *
make_arduino(size_t size, uint8_t mode, uint8_t size_freq, uint64_t seed)
{
	struct rng r = { seed * 0x100000001B3ull + 0x4152445500ull };
	size_t t, d, ram, irom, segs[3], off;
	uint8_t sum = 0xEF, *img;

	if (size % 16 || size < APP_OFF + 96) {
		fprintf(stderr, "mkimage: arduino image size %zu impossible: it must be a multiple "
			"of 16, at least %d\n", size, APP_OFF + 96);
		return NULL;
	}
	img = calloc(1, size);
	if (!img)
		return NULL;
	img[0] = 0xE9;
	img[1] = 1;
	img[2] = mode;
	img[3] = size_freq;
	put32(img + 4, ENTRY_EBOOT);
	off = put_segment(img, 8, ENTRY_EBOOT, EBOOT_SEG_LEN, &r, &sum);
	off |= 15;
	img[off] = sum;
	memset(img + off + 1, 0xAA, APP_OFF - off - 1);

	t = size - APP_OFF;
	d = t - PAD_BEFORE_CSUM - 1 - 8 - 4 * 8;
	ram = d / 8;
	if (ram > 0xC000)
		ram = 0xC000;
	if (ram < 12)
		ram = 12;
	irom = (d - ram) & ~(size_t)15;
	ram = d - irom;
	split_ram(ram, segs);
	off = APP_OFF;
	img[off] = 0xE9;
	img[off + 1] = 4;
	img[off + 2] = mode;
	img[off + 3] = size_freq;
	put32(img + off + 4, ENTRY_APP);
	off += 8;
	sum = 0xEF;
	off = put_segment(img, off, ADDR_IROM_ARDUINO, irom, &r, &sum);
	off = put_segment(img, off, ADDR_IRAM, segs[0], &r, &sum);
	off = put_segment(img, off, ADDR_DRAM, segs[1], &r, &sum);
	off = put_segment(img, off, ADDR_DRAM + (uint32_t)segs[1], segs[2], &r, &sum);
	off += PAD_BEFORE_CSUM;
	if (off != size - 1 || off % 16 != 15) {
		fprintf(stderr, "mkimage: internal layout error (app checksum at %zu)\n", off);
		free(img);
		return NULL;
	}
	img[off] = sum;
	return img;
}

/* ---- parsing our own (valid) images for `break` ---------------------------------------- */

struct layout {
	bool user;          /* v2 user image, else arduino */
	size_t h2;          /* v2: second header; arduino: eboot header (0) */
	size_t seg_hdr[17]; /* offsets of the segment headers of the checked image */
	unsigned nsegs;
	size_t end;         /* end of the last segment's data */
	size_t csum;        /* checksum byte offset */
	bool has_crc;       /* v2: 4 CRC bytes follow */
	size_t e_seg_hdr;   /* arduino: the eboot's first segment header */
	size_t e_csum;      /* arduino: eboot checksum */
};

static int
walk(const uint8_t *p, size_t len, size_t hdr, struct layout *l)
{
	size_t off = hdr + 8;

	if (hdr + 8 > len || p[hdr] != 0xE9 || p[hdr + 1] == 0 || p[hdr + 1] > 16)
		return -1;
	l->nsegs = p[hdr + 1];
	for (unsigned i = 0; i < l->nsegs; i++) {
		if (off + 8 > len)
			return -1;
		l->seg_hdr[i] = off;
		uint32_t n = get32(p + off + 4);
		if (n > len - off - 8)
			return -1;
		off += 8 + n;
	}
	l->end = off;
	l->csum = off | 15;
	return l->csum < len ? 0 : -1;
}

static int
parse(const uint8_t *p, size_t len, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	if (len < 64)
		return -1;
	if (p[0] == 0xEA) {
		l->user = true;
		l->h2 = 16 + get32(p + 12);
		if (l->h2 < 16 || l->h2 >= len || walk(p, len, l->h2, l) < 0)
			return -1;
		l->has_crc = len == l->csum + 5;
		return len == l->csum + 1 || l->has_crc ? 0 : -1;
	}
	if (p[0] != 0xE9 || len <= APP_OFF)
		return -1;
	if (walk(p, APP_OFF, 0, l) < 0)
		return -1;
	l->e_seg_hdr = l->seg_hdr[0];
	l->e_csum = l->csum;
	l->h2 = APP_OFF;
	return walk(p, len, APP_OFF, l);
}

/* ---- break cases -------------------------------------------------------------------------- */

struct img {
	uint8_t *p;
	size_t len;
};

/* Resize (zero-filling growth). */
static int
resize(struct img *m, size_t n)
{
	uint8_t *q = realloc(m->p, n ? n : 1);

	if (!q)
		return -1;
	if (n > m->len)
		memset(q + m->len, 0, n - m->len);
	m->p = q;
	m->len = n;
	return 0;
}

enum fix { FIX_CRC, NO_FIX };

struct break_case {
	const char *name;
	bool user_in;           /* input is a user image (else arduino) */
	bool check_user;        /* rejected by image_check_user (else image_check_arduino) */
	const char *rule;       /* the rule the validator must name */
	enum fix fix;           /* recompute a present CRC after mutating */
	const char *what;
	int (*fn)(struct img *m, const struct layout *l);
};

static int
b_magic(struct img *m, const struct layout *l)
{
	m->p[0] = 0x00;
	return 0;
}

static int
b_erased(struct img *m, const struct layout *l)
{
	m->p[0] = 0xFF;
	return 0;
}

static int
b_v2_byte(struct img *m, const struct layout *l)
{
	m->p[1] = 0x05;
	return 0;
}

static int
b_mode_invalid(struct img *m, const struct layout *l)
{
	m->p[2] = 7;
	m->p[l->h2 + 2] = 7;
	return 0;
}

static int
b_mode_disagree(struct img *m, const struct layout *l)
{
	m->p[l->h2 + 2] = (uint8_t)((m->p[2] + 1) % 4);
	return 0;
}

static int
b_sizefreq_disagree(struct img *m, const struct layout *l)
{
	m->p[l->h2 + 3] ^= 0x02; /* 40 MHz <-> 20 MHz in the second header only */
	return 0;
}

static int
b_size_4mb(struct img *m, const struct layout *l)
{
	m->p[3] = (uint8_t)(0x40 | (m->p[3] & 0xF));
	m->p[l->h2 + 3] = m->p[3];
	return 0;
}

static int
b_size_512k(struct img *m, const struct layout *l)
{
	m->p[3] &= 0x0F;
	m->p[l->h2 + 3] = m->p[3];
	return 0;
}

static int
b_irom_empty(struct img *m, const struct layout *l)
{
	put32(m->p + 12, 0);
	return 0;
}

static int
b_irom_past_end(struct img *m, const struct layout *l)
{
	put32(m->p + 12, (uint32_t)m->len);
	return 0;
}

static int
b_irom_unaligned(struct img *m, const struct layout *l)
{
	put32(m->p + 12, get32(m->p + 12) + 2);
	return 0;
}

static int
b_no_header(struct img *m, const struct layout *l)
{
	m->p[l->h2] = 0xFF;
	return 0;
}

static int
b_zero_segments(struct img *m, const struct layout *l)
{
	m->p[l->h2 + 1] = 0;
	return 0;
}

static int
b_many_segments(struct img *m, const struct layout *l)
{
	m->p[l->h2 + 1] = 17;
	return 0;
}

static int
b_segment_past_end(struct img *m, const struct layout *l)
{
	put32(m->p + l->seg_hdr[l->nsegs - 1] + 4, 0x7FFFFFF0u);
	return 0;
}

static int
b_truncated(struct img *m, const struct layout *l)
{
	return resize(m, l->end); /* keeps every segment, loses the checksum block */
}

static int
b_truncated_half(struct img *m, const struct layout *l)
{
	return resize(m, (m->len / 2) & ~(size_t)3);
}

static int
b_bad_checksum(struct img *m, const struct layout *l)
{
	m->p[l->csum] ^= 0x5A;
	return 0;
}

static int
b_ram_flip(struct img *m, const struct layout *l)
{
	size_t s = l->seg_hdr[l->nsegs - 1];

	m->p[s + 8 + get32(m->p + s + 4) / 2] ^= 0x01; /* middle of the last segment */
	return 0;
}

static int
b_irom_flip_crc(struct img *m, const struct layout *l)
{
	size_t body = l->csum + 1;

	/* The irom is outside the checksum: only the CRC can see this flip. */
	if (!l->has_crc && resize(m, body + 4) < 0)
		return -1;
	put32(m->p + body, esp_crc(m->p, body));
	m->p[16 + get32(m->p + 12) / 2] ^= 0x01;
	return 0;
}

static int
b_bad_crc(struct img *m, const struct layout *l)
{
	size_t body = l->csum + 1;

	if (!l->has_crc && resize(m, body + 4) < 0)
		return -1;
	put32(m->p + body, esp_crc(m->p, body) ^ 0x00010000u);
	return 0;
}

static int
b_trailer(struct img *m, const struct layout *l)
{
	return resize(m, m->len + 8);
}

static int
b_too_big_user(struct img *m, const struct layout *l)
{
	return resize(m, USER_MAX + 4);
}

static int
b_too_big_arduino(struct img *m, const struct layout *l)
{
	return resize(m, ARDUINO_MAX + 4);
}

static int
b_too_small(struct img *m, const struct layout *l)
{
	return resize(m, MIN_IMAGE - 4);
}

static int
b_unaligned(struct img *m, const struct layout *l)
{
	return resize(m, m->len + 2);
}

static int
b_same(struct img *m, const struct layout *l)
{
	return 0;
}

static int
b_eboot_zero_segments(struct img *m, const struct layout *l)
{
	m->p[1] = 0;
	return 0;
}

static int
b_eboot_past_sector(struct img *m, const struct layout *l)
{
	put32(m->p + l->e_seg_hdr + 4, APP_OFF);
	return 0;
}

static int
b_eboot_checksum(struct img *m, const struct layout *l)
{
	m->p[l->e_csum] ^= 0x5A;
	return 0;
}

static int
b_eboot_mode(struct img *m, const struct layout *l)
{
	m->p[2] = 7;
	return 0;
}

static int
b_no_app(struct img *m, const struct layout *l)
{
	memset(m->p + APP_OFF, 0xFF, 8); /* erased flash where the app header belongs */
	return 0;
}

static int
b_eboot_only(struct img *m, const struct layout *l)
{
	return resize(m, APP_OFF);
}

static int
b_app_mode(struct img *m, const struct layout *l)
{
	m->p[APP_OFF + 2] = 7;
	return 0;
}

static int
b_irom_flip_arduino(struct img *m, const struct layout *l)
{
	m->p[l->seg_hdr[0] + 8 + get32(m->p + l->seg_hdr[0] + 4) / 2] ^= 0x01;
	return 0;
}

static const struct break_case cases[] = {
	/* name, user input?, checked as user?, rule, fix CRC?, description, mutation */
	{ "magic", true, true, "magic", FIX_CRC, "byte 0 is 0x00 instead of 0xEA", b_magic },
	{ "v2-byte", true, true, "v2-header", FIX_CRC, "byte 1 is 0x05 instead of 0x04",
	  b_v2_byte },
	{ "mode-invalid", true, true, "mode", FIX_CRC, "mode byte 7 in both headers",
	  b_mode_invalid },
	{ "mode-disagree", true, true, "mismatch", FIX_CRC, "second header has another mode",
	  b_mode_disagree },
	{ "sizefreq-disagree", true, true, "mismatch", FIX_CRC,
	  "second header has another flash frequency", b_sizefreq_disagree },
	{ "size-4mb", true, true, "flash-size", FIX_CRC, "both headers say 4 MB flash",
	  b_size_4mb },
	{ "size-512k", true, true, "flash-size", FIX_CRC, "both headers say 512 KB flash",
	  b_size_512k },
	{ "irom-empty", true, true, "irom", FIX_CRC, "irom length 0", b_irom_empty },
	{ "irom-past-end", true, true, "irom", FIX_CRC, "irom length = file length",
	  b_irom_past_end },
	{ "irom-unaligned", true, true, "irom", FIX_CRC, "irom length + 2", b_irom_unaligned },
	{ "no-embedded-header", true, true, "header", FIX_CRC,
	  "0xFF where the embedded 0xE9 header belongs", b_no_header },
	{ "zero-segments", true, true, "segments", FIX_CRC, "second header declares 0 segments",
	  b_zero_segments },
	{ "too-many-segments", true, true, "segments", FIX_CRC,
	  "second header declares 17 segments", b_many_segments },
	{ "segment-past-end", true, true, "segment", FIX_CRC,
	  "last RAM segment length 0x7FFFFFF0", b_segment_past_end },
	{ "truncated", true, true, "truncated", NO_FIX,
	  "cut right after the last segment: no checksum block", b_truncated },
	{ "truncated-half", true, true, "irom", NO_FIX, "cut in half (an aborted download)",
	  b_truncated_half },
	{ "bad-checksum", true, true, "checksum", FIX_CRC, "checksum byte ^ 0x5A",
	  b_bad_checksum },
	{ "ram-bit-flip", true, true, "checksum", FIX_CRC, "one bit flipped in a RAM segment",
	  b_ram_flip },
	{ "irom-bit-flip", true, true, "crc", NO_FIX,
	  "CRC of the original, then one bit flipped in irom (outside the checksum)",
	  b_irom_flip_crc },
	{ "bad-crc", true, true, "crc", NO_FIX, "a CRC trailer with one bit wrong", b_bad_crc },
	{ "trailer", true, true, "trailer", NO_FIX, "8 bytes after the checksum", b_trailer },
	{ "too-big", true, true, "too-large", NO_FIX, "padded to 503812 bytes", b_too_big_user },
	{ "too-small", true, true, "too-small", NO_FIX, "cut to 4092 bytes", b_too_small },
	{ "unaligned", true, true, "alignment", NO_FIX, "2 bytes appended", b_unaligned },
	{ "arduino-as-user", false, true, "magic", NO_FIX,
	  "image_arduino.bin (0xE9) where a user image (0xEA) is wanted", b_same },
	{ "user-as-arduino", true, false, "magic", NO_FIX,
	  "a user image (0xEA) where image_arduino.bin (0xE9) is wanted", b_same },
	{ "arduino-magic", false, false, "magic", NO_FIX, "byte 0 is 0xFF (erased flash)",
	  b_erased },
	{ "arduino-mode-invalid", false, false, "mode", NO_FIX, "eboot mode byte 7",
	  b_eboot_mode },
	{ "arduino-app-mode-invalid", false, false, "mode", NO_FIX, "app mode byte 7",
	  b_app_mode },
	{ "arduino-eboot-zero-segments", false, false, "eboot-segments", NO_FIX,
	  "eboot declares 0 segments", b_eboot_zero_segments },
	{ "arduino-eboot-past-sector", false, false, "eboot-segment", NO_FIX,
	  "eboot segment length 0x1000, past its sector", b_eboot_past_sector },
	{ "arduino-eboot-checksum", false, false, "eboot-checksum", NO_FIX,
	  "eboot checksum byte ^ 0x5A", b_eboot_checksum },
	{ "arduino-no-app", false, false, "app", NO_FIX, "0xFF where the app header belongs",
	  b_no_app },
	{ "arduino-eboot-only", false, false, "app", NO_FIX, "cut at 0x1000: eboot only",
	  b_eboot_only },
	{ "arduino-app-zero-segments", false, false, "app-segments", NO_FIX,
	  "app declares 0 segments", b_zero_segments },
	{ "arduino-app-segment-past-end", false, false, "app-segment", NO_FIX,
	  "last app segment length 0x7FFFFFF0", b_segment_past_end },
	{ "arduino-app-checksum", false, false, "app-checksum", NO_FIX, "app checksum ^ 0x5A",
	  b_bad_checksum },
	{ "arduino-irom-bit-flip", false, false, "app-checksum", NO_FIX,
	  "one bit flipped in the app's irom segment (covered by the v1 checksum)",
	  b_irom_flip_arduino },
	{ "arduino-truncated", false, false, "app-truncated", NO_FIX,
	  "cut right after the app's last segment", b_truncated },
	{ "arduino-too-big", false, false, "too-large", NO_FIX, "padded to 524292 bytes",
	  b_too_big_arduino },
	{ "arduino-too-small", false, false, "too-small", NO_FIX, "cut to 4092 bytes",
	  b_too_small },
	{ "arduino-unaligned", false, false, "alignment", NO_FIX, "2 bytes appended",
	  b_unaligned },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- command line ------------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fputs("usage:\n"
	      "  mkimage user --slot 1|2 [--mode dout|dio|qio|qout] [--size N] [--size-freq 0xNN]\n"
	      "               [--seed S] [--crc] -o FILE\n"
	      "  mkimage arduino [--mode M] [--size N] [--size-freq 0xNN] [--seed S] -o FILE\n"
	      "  mkimage set DIR [--size-user N] [--size-arduino N] [--seed S] [--crc]\n"
	      "  mkimage break CASE IN OUT\n"
	      "  mkimage break --list      (name, input, checked as, rule, description)\n"
	      "Writes synthetic images in the real ESP8266 formats; see docs/images.md.\n"
	      "Defaults: mode dout, size-freq 0x20 (1 MB, 40 MHz), seed 1, user size 238752,\n"
	      "arduino size 482432, no CRC.\n", f);
}

static int
parse_num(const char *s, const char *what, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "mkimage: bad %s \"%s\"\n", what, s);
		return -1;
	}
	*ret = v;
	return 0;
}

static int
parse_mode(const char *s, uint8_t *ret)
{
	static const char *const names[] = { "qio", "qout", "dio", "dout" };

	for (uint8_t i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	fprintf(stderr, "mkimage: bad mode \"%s\" (qio, qout, dio, dout)\n", s);
	return -1;
}

enum { OPT_SLOT = 256, OPT_MODE, OPT_SIZE, OPT_SIZE_FREQ, OPT_SEED, OPT_CRC, OPT_SIZE_USER,
       OPT_SIZE_ARDUINO };

static const struct option long_opts[] = {
	{ "slot", required_argument, NULL, OPT_SLOT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "size-freq", required_argument, NULL, OPT_SIZE_FREQ },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "crc", no_argument, NULL, OPT_CRC },
	{ "size-user", required_argument, NULL, OPT_SIZE_USER },
	{ "size-arduino", required_argument, NULL, OPT_SIZE_ARDUINO },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	int slot;
	uint8_t mode;
	uint64_t size, size_user, size_arduino, size_freq, seed;
	bool crc, have_size;
	const char *out;
};

static int
parse_args(int argc, char **argv, struct args *a)
{
	uint64_t v;
	int c;

	*a = (struct args){ .mode = 3, .size_freq = 0x20, .seed = 1,
			    .size_user = USER_DEFAULT_SIZE, .size_arduino = ARDUINO_DEFAULT_SIZE };
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case OPT_SLOT:
			if (parse_num(optarg, "slot", 2, &v) < 0 || v < 1)
				return -1;
			a->slot = (int)v;
			break;
		case OPT_MODE:
			if (parse_mode(optarg, &a->mode) < 0)
				return -1;
			break;
		case OPT_SIZE:
			if (parse_num(optarg, "size", FILE_MAX, &a->size) < 0)
				return -1;
			a->have_size = true;
			break;
		case OPT_SIZE_FREQ:
			if (parse_num(optarg, "size-freq", 0xFF, &a->size_freq) < 0)
				return -1;
			break;
		case OPT_SEED:
			if (parse_num(optarg, "seed", UINT64_MAX, &a->seed) < 0)
				return -1;
			break;
		case OPT_CRC:
			a->crc = true;
			break;
		case OPT_SIZE_USER:
			if (parse_num(optarg, "size-user", FILE_MAX, &a->size_user) < 0)
				return -1;
			break;
		case OPT_SIZE_ARDUINO:
			if (parse_num(optarg, "size-arduino", FILE_MAX, &a->size_arduino) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

static int
emit(uint8_t *img, size_t size, const char *path)
{
	int r;

	if (!img)
		return 1;
	r = write_file(path, img, size);
	free(img);
	return r < 0 ? 1 : 0;
}

static int
cmd_user(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	if (!a.slot || !a.out || optind != argc) {
		fprintf(stderr, "mkimage user: --slot and -o are required\n");
		return 2;
	}
	if (!a.have_size)
		a.size = USER_DEFAULT_SIZE + (a.crc ? 4 : 0);
	return emit(make_user(a.size, a.slot, a.mode, (uint8_t)a.size_freq, a.seed, a.crc),
		    a.size, a.out);
}

static int
cmd_arduino(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	if (!a.out || optind != argc) {
		fprintf(stderr, "mkimage arduino: -o is required\n");
		return 2;
	}
	if (!a.have_size)
		a.size = ARDUINO_DEFAULT_SIZE;
	return emit(make_arduino(a.size, a.mode, (uint8_t)a.size_freq, a.seed), a.size, a.out);
}

static int
mkdir_p(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mkimage: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* DIR/dout/{user1,user2} (DOUT), DIR/dio/{user1,user2} (DIO), DIR/image_arduino.bin. */
static int
cmd_set(int argc, char **argv)
{
	static const struct { const char *dir; uint8_t mode; } variants[] = {
		{ "dout", 3 }, { "dio", 2 },
	};
	static const char *const names[] = { "image_user1-0x01000.bin",
					     "image_user2-0x81000.bin" };
	struct args a;
	char path[4096];
	const char *dir;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	if (optind + 1 != argc) {
		fprintf(stderr, "mkimage set: one DIR expected\n");
		return 2;
	}
	dir = argv[optind];
	if (mkdir_p(dir) < 0)
		return 1;
	for (size_t v = 0; v < 2; v++) {
		snprintf(path, sizeof(path), "%s/%s", dir, variants[v].dir);
		if (mkdir_p(path) < 0)
			return 1;
		for (int slot = 1; slot <= 2; slot++) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir, variants[v].dir,
				 names[slot - 1]);
			if (emit(make_user(a.size_user, slot, variants[v].mode,
					   (uint8_t)a.size_freq, a.seed, a.crc), a.size_user, path))
				return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/image_arduino.bin", dir);
	return emit(make_arduino(a.size_arduino, 3, 0x20, a.seed), a.size_arduino, path);
}

static int
cmd_break(int argc, char **argv)
{
	const struct break_case *bc = NULL;
	struct layout l;
	struct img m;
	size_t body;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < NCASES; i++)
			printf("%s\t%s\t%s\t%s\t%s\n", cases[i].name,
			       cases[i].user_in ? "user" : "arduino",
			       cases[i].check_user ? "user" : "arduino", cases[i].rule,
			       cases[i].what);
		return 0;
	}
	if (argc != 4) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < NCASES; i++)
		if (strcmp(cases[i].name, argv[1]) == 0)
			bc = &cases[i];
	if (!bc) {
		fprintf(stderr, "mkimage: unknown break case \"%s\" (see --list)\n", argv[1]);
		return 2;
	}
	m.p = read_file(argv[2], &m.len);
	if (!m.p)
		return 1;
	if (parse(m.p, m.len, &l) < 0 || l.user != bc->user_in) {
		fprintf(stderr, "mkimage: %s: not a valid %s image (case \"%s\" needs one)\n",
			argv[2], bc->user_in ? "user" : "arduino", bc->name);
		free(m.p);
		return 1;
	}
	if (bc->fn(&m, &l) < 0) {
		free(m.p);
		return 1;
	}
	/* Keep a CRC trailer consistent so that only the intended rule is broken. */
	body = l.csum + 1;
	if (bc->fix == FIX_CRC && l.has_crc && m.len == body + 4)
		put32(m.p + body, esp_crc(m.p, body));
	return emit(m.p, m.len, argv[3]);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(argv[1], "arduino") == 0)
		return cmd_arduino(argc - 1, argv + 1);
	if (strcmp(argv[1], "set") == 0)
		return cmd_set(argc - 1, argv + 1);
	if (strcmp(argv[1], "break") == 0)
		return cmd_break(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
