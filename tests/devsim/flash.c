/* flash: 1 MB NOR flash model.
 *
 * The stock layout is PROTOCOL §6.4: Espressif 2nd-stage bootloader at 0x0 (a v1 image,
 * magic 0xE9), stock user image (v2, magic 0xEA 0x04) in the running slot, everything else
 * erased. The contents are synthetic (never anybody's firmware): only the magic bytes and
 * header layout matter to the boot logic.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "flash.h"

#define FLASH_STOCK_IMAGE_LEN 0x3A470u	/* a plausible stock user image size (~233 KB) */

/* xorshift32: a tiny deterministic generator for synthetic contents */
static uint32_t
synth_next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

void
flash_synth_user_image(uint8_t *buf, size_t len, uint8_t seed, uint8_t mode)
{
	uint32_t s = 0x9E3779B9u ^ seed;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)synth_next(&s);
	if (len >= 8) {
		buf[0] = 0xEA;		/* v2 OTA image */
		buf[1] = 0x04;		/* constant */
		buf[2] = mode;		/* flash mode */
		buf[3] = 0x20;		/* 1 MB, 40 MHz */
	}
}

void
flash_init_stock(struct flash *f, int slot)
{
	uint32_t s = 0x1234567u;
	size_t i;

	memset(f->mem, 0xFF, sizeof(f->mem));
	f->bad_writes = 0;
	f->first_bad_write = 0;

	/* Espressif bootloader: v1 image header, 1 segment, QIO/40 MHz like stock units */
	memset(f->espboot, 0xFF, sizeof(f->espboot));
	for (i = 0; i < FLASH_BOOTLOADER_LEN; i++)
		f->espboot[i] = (uint8_t)synth_next(&s);
	f->espboot[0] = 0xE9;
	f->espboot[1] = 0x01;
	f->espboot[2] = 0x03;		/* DOUT: boots on every chip model */
	f->espboot[3] = 0x20;
	memcpy(f->mem, f->espboot, FLASH_SECTOR);

	flash_synth_user_image(f->mem + (slot == 2 ? FLASH_USER2 : FLASH_USER1),
			       FLASH_STOCK_IMAGE_LEN, 0x50, 0x03);
}

int
flash_erase_sectors(struct flash *f, unsigned first, unsigned last)
{
	if (first > last || last >= FLASH_SIZE / FLASH_SECTOR)
		return -EINVAL;
	memset(f->mem + (size_t)first * FLASH_SECTOR, 0xFF,
	       (size_t)(last - first + 1) * FLASH_SECTOR);
	return 0;
}

int
flash_erase_range(struct flash *f, uint32_t addr, size_t len)
{
	if (len == 0)
		return 0;
	if (addr >= FLASH_SIZE || len > FLASH_SIZE - addr)
		return -EINVAL;
	return flash_erase_sectors(f, addr / FLASH_SECTOR,
				   (unsigned)((addr + len - 1) / FLASH_SECTOR));
}

int
flash_write(struct flash *f, uint32_t addr, const void *data, size_t len)
{
	const uint8_t *p = data;
	int r = 0;
	size_t i;

	if (addr >= FLASH_SIZE || len > FLASH_SIZE - addr)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (f->mem[addr + i] != 0xFF && r == 0) {
			if (f->bad_writes++ == 0)
				f->first_bad_write = addr + (uint32_t)i;
			r = -EIO;
		}
		f->mem[addr + i] &= p[i];	/* NOR: a write can only clear bits */
	}
	return r;
}

int
flash_has_espboot(const struct flash *f)
{
	return memcmp(f->mem, f->espboot, FLASH_SECTOR) == 0;
}
