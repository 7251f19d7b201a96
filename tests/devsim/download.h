/* download: the stock firmware's image download (PROTOCOL §4, §3.6). */
#ifndef DEVSIM_DOWNLOAD_H
#define DEVSIM_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct devsim;
struct msg_upgrade;

/* Give up when a response (head or next body bytes) does not come within this time. */
#define DL_IO_TIMEOUT_MS 10000
/* After each body: how long to look for bytes the server should not have sent. */
#define DL_EXTRA_CHECK_MS 30
/* norange pacing model (§3.6, inferred): the device gives up if more than
 * DL_SLOW_FIRST_MAX body bytes arrive in the first DL_SLOW_FIRST_MS ... */
#define DL_SLOW_FIRST_MS 800
#define DL_SLOW_FIRST_MAX 1400
/* ... or later faster than a bucket of DL_SLOW_BUCKET bytes refilled with
 * DL_SLOW_RATE_BYTES per DL_SLOW_RATE_MS (SonOTA's slow stream: 1400 B / 300 ms). */
#define DL_SLOW_BUCKET 2800
#define DL_SLOW_RATE_BYTES 1400
#define DL_SLOW_RATE_MS 250

/* Results besides 0 (image verified) and -errno (failure recorded in d). */
#define DL_TOO_FAST 1			/* norange: data came too fast, the device gives up (ack 404) */
#define DL_DROPPED 2			/* drop_at: WiFi lost mid-download */

/* The WebSocket side that must stay serviced while downloading (pings, relay updates). */
struct dl_side {
	struct conn *conn;		/* the WSS connection (polled together with the download) */
	int (*service)(void *arg);	/* process what is readable/due without blocking; <0 = fail */
	void *arg;
};

/* Download u (Range or norange per model), verify length, 0xEA magic, slot size and
 * SHA-256. On 0 *ret_img (malloc'd, caller frees) and *ret_len hold the image. Returns
 * DL_TOO_FAST / DL_DROPPED, or -errno after recording the failure (DEV_EXIT_DOWNLOAD for
 * everything the server did wrong: the caller then acks 404). */
int dl_stock(struct devsim *d, const struct msg_upgrade *u, struct dl_side *side,
	     uint8_t **ret_img, size_t *ret_len);

#endif
