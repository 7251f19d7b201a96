/* e2a: Espressif2Arduino, the intermediate firmware (PROTOCOL §5). */
#ifndef DEVSIM_E2A_H
#define DEVSIM_E2A_H

#include <stdint.h>

struct devsim;

enum e2a_mode {
	E2A_MODE_UNKNOWN,		/* the trap: FinalStage up, nothing ever happens (§5.1) */
	E2A_MODE_FLASH_ROM1,		/* download image_arduino.bin to 0x0 */
	E2A_MODE_FLASH_ROM2,		/* download image_user2-0x81000.bin to 0x81000 */
};

/* Pure: E2A's boot-time decision from the running rom (1|2) and the byte at 0x1000. */
enum e2a_mode e2a_decide(int rom, uint8_t magic);

/* Boot the device after the stock OTA and run E2A (one or two downloads, restarts) until
 * the Arduino image boots. 0 (the caller compares the flash), or -errno after recording
 * the failure (e2a, flash, timeout, hook). */
int e2a_run(struct devsim *d);

#endif
