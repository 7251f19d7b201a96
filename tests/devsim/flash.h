/* flash: a 1 MB ESP8266 SPI flash with NOR semantics (erase to 0xFF per 4 KB sector,
 * writes can only clear bits). PROTOCOL §6.4 has the map. */
#ifndef DEVSIM_FLASH_H
#define DEVSIM_FLASH_H

#include <stddef.h>
#include <stdint.h>

#define FLASH_SIZE 0x100000u		/* 1 MB (Basic, S20, POW, T1 ...) */
#define FLASH_SECTOR 0x1000u		/* erase unit */
#define FLASH_USER1 0x01000u		/* OTA slot 1 */
#define FLASH_USER2 0x81000u		/* OTA slot 2 */
#define FLASH_SLOT_MAX 0x7B000u		/* 492 KB per slot (§6.4) */
#define FLASH_BOOTLOADER_LEN 0x0800u	/* length of the synthetic Espressif bootloader */

struct flash {
	uint8_t mem[FLASH_SIZE];	/* the chip */
	uint8_t espboot[FLASH_SECTOR];	/* the synthetic Espressif bootloader sector, to recognise it */
	unsigned bad_writes;		/* writes that hit unerased bytes (a modelling bug) */
	uint32_t first_bad_write;	/* address of the first of them */
};

/* Initialise like a stock device: Espressif bootloader at 0, stock image in `slot`. */
void flash_init_stock(struct flash *f, int slot);
/* Fill buf with a deterministic synthetic v2 user image (0xEA 0x04 ...) of len bytes. */
void flash_synth_user_image(uint8_t *buf, size_t len, uint8_t seed, uint8_t mode);
/* Erase the sectors [first, last]; -EINVAL when out of range. */
int flash_erase_sectors(struct flash *f, unsigned first, unsigned last);
/* Erase every sector touching [addr, addr+len). */
int flash_erase_range(struct flash *f, uint32_t addr, size_t len);
/* NOR write: mem &= data. -EIO (and counted) if a target byte was not erased, -EINVAL if
 * out of range. */
int flash_write(struct flash *f, uint32_t addr, const void *data, size_t len);
/* 1 if sector 0 still holds the synthetic Espressif bootloader. */
int flash_has_espboot(const struct flash *f);

#endif
