/* model: per-device quirks, loaded from a small key=value file (tests/devsim/models/). */
#ifndef DEVSIM_MODEL_H
#define DEVSIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define MODEL_STR_MAX 32		/* model / romVersion strings */

enum model_dl {
	MODEL_DL_RANGE,			/* 1.5.5/2.0.x: many Range requests (PROTOCOL §4) */
	MODEL_DL_NORANGE,		/* old firmware: one GET, needs slow pacing (§3.6) */
};

enum model_switch {
	MODEL_SWITCH_OFF,
	MODEL_SWITCH_ON,
	MODEL_SWITCH_MULTI,		/* 4-channel: params.switches[] (§3.3 D3) */
};

/* Flash-mode bits for `flash_modes` (PROTOCOL §6.1 mode byte values 0..3). */
#define MODEL_FM_QIO  (1u << 0)
#define MODEL_FM_QOUT (1u << 1)
#define MODEL_FM_DIO  (1u << 2)
#define MODEL_FM_DOUT (1u << 3)
#define MODEL_FM_ALL  (MODEL_FM_QIO | MODEL_FM_QOUT | MODEL_FM_DIO | MODEL_FM_DOUT)

struct model {
	char name[MODEL_STR_MAX];	/* model: e.g. ITA-GZ1-GL */
	char rom_version[MODEL_STR_MAX];/* romVersion: e.g. 1.5.5 */
	int slot;			/* slot: running stock slot, 1|2 */
	int tls_max_minor;		/* tls_max: 1 = TLS1.0, 2 = TLS1.1, 3 = TLS1.2 */
	bool pin_cert;			/* pin_cert: abort the handshake after Certificate */
	int pin_retries;		/* pin_retries: TLS attempts before giving up */
	enum model_dl download;		/* download: range|norange */
	int range_chunk;		/* range_chunk: bytes per Range request */
	enum model_switch sw;		/* switch: on|off|multi */
	int drop_at;			/* drop_at: % of first stock download where WiFi drops, 0 = never */
	int final_drop_at;		/* final_drop_at: same for the E2A ROM1 download */
	int hb_interval;		/* hb_interval: WS ping period in s, 0 = server's hbInterval */
	bool ap_needs_single_segment;	/* ap_needs_single_segment: ignore split POST /ap */
	bool power;			/* power: POW-style `power` in update params */
	bool query_timezone;		/* query: timers,timeZone (POW 2.0.2) instead of timers */
	unsigned flash_modes;		/* flash_modes: modes the flash chip boots (MODEL_FM_*) */
	int tcp_window;			/* tcp_window: receive buffer of every socket, 0 = OS default */
};

/* Set the defaults (Basic, ITA-GZ1-GL 1.5.5, slot 1, TLS 1.1, range 4096). */
void model_defaults(struct model *m);
/* Parse key=value text into m (defaults first); -EINVAL with err naming line and key. */
int model_parse(struct model *m, const char *text, char *err, size_t errlen);
/* Read and parse a model file; -errno with err text. */
int model_load(struct model *m, const char *path, char *err, size_t errlen);

#endif
