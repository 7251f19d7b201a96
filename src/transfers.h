/* transfers: what the image server reports (through evq) turned into the access
 * log, per-device progress, the facts of FinalStage and the one fact that ends a
 * takeover: image_arduino.bin delivered in full (verdict.h decides).
 *
 * Owns its state (struct transfers); reports to the route through a post function,
 * never by including the composition's header. Runs on the lws loop thread only.
 */
#pragma once

#include <stdbool.h>

#include "evq.h"
#include "imageset.h"
#include "log.h"
#include "peers.h"
#include "ui.h"

/* What transfers reports. */
enum transfers_event {
	TRANSFERS_E2A_REQUEST,     /* FinalStage's device started a download */
	TRANSFERS_FINAL_DELIVERED, /* image_arduino.bin delivered in full to it */
	TRANSFERS_USER2_DELIVERED, /* E2A fetched image_user2 in full (facts only) */
	TRANSFERS_E2A_ENDED,       /* an E2A download ended either way (facts only) */
	TRANSFERS_DEVICE_SEEN,     /* a plain-HTTP dispatch on the legacy port */
};

typedef void (*transfers_post_fn)(void *arg, enum transfers_event ev);

struct transfers {
	struct log *log;               /* borrowed */
	struct ui *ui;                 /* borrowed */
	struct peers *peers;           /* borrowed: address -> deviceid, fetch facts */
	const struct imageset *images; /* borrowed: for the delivered image's digest */
	transfers_post_fn post;        /* the route's events */
	void *post_arg;
	const char *final_deviceid;    /* the device last done with stock, "" (borrowed) */
	bool user2_delivered;          /* E2A ROM1 job fetched image_user2 in full */
	bool delivered;                /* image_arduino.bin went out in full */
	unsigned requests;             /* E2A downloads started */
	unsigned aborted;              /* E2A downloads that ended short */
	unsigned inflight;             /* E2A downloads started and not yet decided */
};

/* Drain every queued event of q; on the loop thread, after lws_cancel_service(). */
void transfers_drain(struct transfers *t, struct evq *q);

/* Handle one event (transfers_drain's body; tests feed events directly). */
void transfers_handle(struct transfers *t, const struct evq_event *e);

/* --all: a device ended; the facts of one device (user2_delivered) start over for
 * the next one. The route reads them at every post: without this the next device's
 * first E2A event copied the last device's `true` back into the route. The run's
 * totals (delivered, requests, aborted, inflight) are kept. */
void transfers_next_device(struct transfers *t);
