/* diyacct: what the image server's events prove about one DIY device's download, pure
 * (docs/diy.md "serving-image", "completion-post"; DIY-PROTOCOL.md §5.3, §5.5).
 *
 * The device asks for 4 KB ranges strictly in order from 0 (§5.3): its request for the
 * range at offset X proves that bytes [0, X) reached it. The last range is proven by
 * ackwatch (imgsrv passes a DIY server's final 206 through it): its EVQ_HTTP_DONE with
 * complete = true means the device's TCP acknowledged every byte. So "acked" never counts
 * a byte that was merely handed to the kernel.
 *
 * The completion POST may arrive before ackwatch's verdict on the last range (its grace
 * period): diyacct_completion_ready() holds it back until that verdict came, or until
 * DIYACCT_HOLD_MS passed, so the verdict never judges "success with bytes missing" from a
 * race. Only events of the served file and of the device's address count.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diyflow.h"
#include "evq.h"

#define DIYACCT_HOLD_MS 16000 /* > ACKWATCH_TIMEOUT_MS: the last range's verdict is due */

struct diyacct {
	char file[EVQ_NAME_MAX];  /* the served file's name */
	char peer[EVQ_PEER_MAX];  /* the device's address; "" = any */
	uint64_t size;            /* the image's size */
	uint64_t acked;           /* bytes proven received, contiguous from 0 */
	uint64_t sent;            /* bytes handed out so far (for the progress bar) */
	bool started;             /* a range of the file was asked for */
	bool last_done;           /* the final range's DONE came (complete or not) */
	bool dropped;             /* the last response ended before its end */
	uint64_t progress_ms;     /* when acked last grew */
	bool completion;          /* a valid completion POST arrived */
	int completion_error;     /* its "error" */
	uint64_t completion_ms;   /* when */
	unsigned requests;        /* range requests of the file */
};

/* Start accounting for file (size bytes) served to peer (NULL or "" = any address). */
void diyacct_init(struct diyacct *a, const char *file, uint64_t size, const char *peer);

/* Take one image-server event at now_ms. Returns true when a fact changed. */
bool diyacct_event(struct diyacct *a, const struct evq_event *ev, uint64_t now_ms);

/* Whether the completion POST may be judged now (see above). */
bool diyacct_completion_ready(const struct diyacct *a, uint64_t now_ms);

/* The progress for diyflow_verdict(): flash_ms is when ota_flash was answered (0 = not yet:
 * now is used), left_mdns from the mDNS watcher. */
void diyacct_progress(const struct diyacct *a, uint64_t now_ms, uint64_t flash_ms,
		      bool left_mdns, struct diyflow_progress *p);
