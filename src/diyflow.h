/* diyflow: the DIY route's flash sequence and completion verdict as pure functions
 * (DIY-PROTOCOL.md §3.2, §4.1, §5.1, §5.5, §5.7, §10).
 *
 * diyflow_next() says what to send next from what the device said last; diyflow_verdict()
 * says whether a device is done, still working, or failed (with a one-line diagnosis). The
 * engine's DIY route table (docs/diy.md) calls them from its stage handlers; they keep no
 * state but what the caller passes, use no clock (elapsed times come in) and do no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diy.h"

/* ---- the flash sequence as a decision function ------------------------------------ */

enum diyflow_step {
	DIYFLOW_STEP_NONE = 0, /* nothing sent yet */
	DIYFLOW_STEP_INFO,
	DIYFLOW_STEP_UNLOCK,
	DIYFLOW_STEP_FLASH,
	_DIYFLOW_STEP_MAX,
};

/* How the last request ended, as the adapter saw it. */
enum diyflow_outcome {
	DIYFLOW_OUT_NONE = 0,  /* with DIYFLOW_STEP_NONE */
	DIYFLOW_OUT_REPLY,     /* a valid reply; its code in diyflow_result.error */
	DIYFLOW_OUT_RESET,     /* connection reset or closed without a reply ("empty reply") */
	DIYFLOW_OUT_TIMEOUT,   /* no reply within the step's limit */
	DIYFLOW_OUT_BAD_REPLY, /* a reply that did not parse (not JSON, html, wrong types) */
};

struct diyflow_result {
	enum diyflow_step step;       /* what was sent */
	enum diyflow_outcome outcome;
	int error;                /* with DIYFLOW_OUT_REPLY */
	bool sent_deviceid;       /* the request carried "deviceid" */
	bool ota_unlock;          /* with step INFO and error 0: the info's otaUnlock */
};

/* What the sequence has learnt so far. The caller keeps it between calls; diyflow_next()
 * updates it. Zero-initialise with the facts known before the first request. */
struct diyflow_facts {
	enum diy_fw fw;           /* from TXT/info when known */
	bool omit_deviceid;       /* send requests without "deviceid" */
	bool deviceid_proven;     /* a request in the current deviceid mode got a reply */
	unsigned unlocks;         /* ota_unlock calls that returned error 0 */
	unsigned infos;           /* info replies with error 0 */
	unsigned flash_403;       /* ota_flash answered 403 (locked) */
};

enum diyflow_action {
	DIYFLOW_ACT_INFO,    /* send info */
	DIYFLOW_ACT_UNLOCK,  /* send ota_unlock */
	DIYFLOW_ACT_FLASH,   /* send ota_flash (image server already serving) */
	DIYFLOW_ACT_SERVE,   /* flash accepted (or maybe): wait for the download + completion */
	DIYFLOW_ACT_GIVE_UP, /* stop; diagnosis says why */
};

struct diyflow_next {
	enum diyflow_action act;
	bool send_deviceid;    /* for INFO/UNLOCK/FLASH: include "deviceid" */
	const char
	    *diagnosis; /* GIVE_UP: one line; SERVE after an empty reply: a note; else NULL */
};

/* Time limits of the requests (the adapter turns them into DIYFLOW_OUT_TIMEOUT). */
#define DIYFLOW_INFO_MS 5000    /* info answers at once; 3.7.x hangs on a bad deviceid */
#define DIYFLOW_UNLOCK_MS 20000 /* < 1 s when online (NJH#2); offline it hangs for minutes */
#define DIYFLOW_FLASH_MS 10000  /* ota_flash answers before downloading (§5.1) */

#define DIYFLOW_UNLOCKS_MAX 2 /* unlock calls before "unlock does not take": one retry after 403 */

/* Next action after last (DIYFLOW_STEP_NONE for the first call). Contract:
 * - first INFO; info OK: UNLOCK if otaUnlock is false, else FLASH;
 * - UNLOCK OK -> INFO again, which must now show otaUnlock true, else GIVE_UP;
 * - FLASH OK -> SERVE; FLASH 403 -> UNLOCK once more, then GIVE_UP;
 * - a reset/empty reply or a 422 to a request that carried the deviceid, before any request
 *   in that mode got a reply: the same request again without the key (3.7.x, MINIR3, §3.2);
 *   once more and it is GIVE_UP;
 * - a reset/empty reply to ota_flash after the deviceid was proven: SERVE (IT#95: the
 *   device may flash anyway; the image server sees whether it downloads);
 * - an UNLOCK timeout or reset with the deviceid proven: GIVE_UP "needs the Internet";
 * - any other non-zero error: GIVE_UP with diy_error_text().
 * facts is updated in place. */
struct diyflow_next diyflow_next(struct diyflow_facts *facts, const struct diyflow_result *last);

const char *diyflow_action_name(enum diyflow_action a); /* "info", "unlock", "flash", ... */

/* ---- completion ---------------------------------------------------------------------- */

/* Time limits of the wait after ota_flash (docs/diy.md). */
#define DIYFLOW_DOWNLOAD_START_MS 60000   /* ota_flash OK -> first Range request */
#define DIYFLOW_STALL_MS 30000            /* no new byte acknowledged while downloading */
#define DIYFLOW_COMPLETION_MS 120000 /* last byte -> POST /api/device/otaFlash (up to minutes) */
#define DIYFLOW_LEAVE_MDNS_MS 120000      /* completion error 0 -> service gone from mDNS */

/* What the image server, the mDNS watcher and the clock say about one device. */
struct diyflow_progress {
	uint64_t image_size;       /* bytes of the served image */
	uint64_t acked;            /* bytes delivered and acknowledged (contiguous from 0) */
	bool completion_seen;      /* POST /api/device/otaFlash arrived with a valid body */
	int completion_error;      /* its "error" */
	bool left_mdns;            /* the _ewelink._tcp instance was withdrawn / expired */
	bool dropped;              /* a download connection closed before the image's end */
	int64_t ms_since_flash;    /* since ota_flash was answered (or given up on) */
	int64_t ms_since_progress; /* since acked last grew (or since ota_flash if none) */
	int64_t ms_since_complete; /* since the completion POST (when completion_seen) */
};

enum diyflow_verdict {
	DIYFLOW_PENDING = 0, /* keep waiting */
	DIYFLOW_DONE,        /* every byte acked + completion error 0 + left mDNS */
	DIYFLOW_FAILED,      /* diagnosis says why */
};

/* The verdict now. On DIYFLOW_FAILED (and on DIYFLOW_PENDING, as a status line) writes one line
 * into diag; DIYFLOW_DONE only when all three proofs hold, never on a timer. */
enum diyflow_verdict diyflow_verdict(const struct diyflow_progress *p, char *diag, size_t diaglen);

/* ---- stages (the route table's rows, docs/diy.md) --------------------------------------- */

#define DIYFLOW_DISCOVER_MS 60000 /* start -> a DIY-mode announcement (or --device-ip answers) */

enum diyflow_stage {
	DIYFLOW_STAGE_DISCOVER = 0, /* waiting for the device's announcement */
	DIYFLOW_STAGE_INFO,
	DIYFLOW_STAGE_UNLOCK,
	DIYFLOW_STAGE_FLASH,
	DIYFLOW_STAGE_SERVING,      /* "serving-image": ota_flash accepted, bytes going out */
	DIYFLOW_STAGE_COMPLETION,   /* "completion-post": every byte acked, waiting for the POST */
	DIYFLOW_STAGE_LEFT_MDNS,    /* "left-mdns": completion 0, waiting for the goodbye */
	DIYFLOW_STAGE_DONE,
	DIYFLOW_STAGE_FAILED,
	_DIYFLOW_STAGE_MAX,
};

/* "discover", "info", "unlock", "flash", "serving-image", "completion-post", "left-mdns",
 * "done", "failed"; "unknown" out of range. */
const char *diyflow_stage_name(enum diyflow_stage st);

/* The stage's time limit in ms (the DIYFLOW_*_MS above; serving-image: the stall limit,
 * the start limit being checked by diyflow_verdict()); 0 for done/failed. */
int64_t diyflow_stage_limit_ms(enum diyflow_stage st);

/* The stage a device is in: from the next action while requests are being made, and from
 * the progress (with diyflow_verdict()) once the image is being served. p may be NULL before
 * ota_flash was accepted. */
enum diyflow_stage diyflow_stage_of(enum diyflow_action next, const struct diyflow_progress *p);
