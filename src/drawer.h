/* drawer: the devices of one --all run (issue 10 item 4, docs/wifi.md "Drawer
 * mode"): where each device is (provisioned, calling the emulated cloud, done with
 * stage 2 and waiting for its FinalStage, on FinalStage, ended), what became of each
 * one, and the summary line per device. Several devices may be in stage 2 at once;
 * FinalStage goes one device at a time, matched by the BSSID of its ITEAD-<id>.
 * Pure: no I/O; the adapter (src/takeover.c) keeps it, the cloud route reads its
 * counts (route_cloud_facts), src/hop.c asks which pairing APs were taken already.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRAWER_DEVICES_MAX 32 /* devices per run: a drawer of Sonoffs; a run that meets
			       * more counts the rest in .dropped (the summary says so) */
#define DRAWER_ID_MAX 32      /* a deviceid ("1000abcdef") or "?" */
#define DRAWER_WHY_MAX 256    /* the one-line why of a device that is not done */

/* Where a device is. Only forward: a device never goes back a state. */
enum drawer_state {
	DRAWER_ST_PROVISIONED = 0, /* took the home WiFi; has not called the cloud yet */
	DRAWER_ST_CALLED,          /* talks to the emulated cloud (stage 2) */
	DRAWER_ST_STOCK_DONE,      /* acked its upgrade: its FinalStage waits for us */
	DRAWER_ST_FINAL,           /* the device whose FinalStage is being served */
	DRAWER_ST_ENDED,           /* outcome and why are set */
	_DRAWER_ST_MAX
};

enum drawer_outcome {
	DRAWER_DONE = 0,     /* the final image delivered, FinalStage gone */
	DRAWER_FAILED,       /* a limit expired or provisioning gave up for it */
	DRAWER_INTERRUPTED,  /* the user stopped the run while it was in progress */
	_DRAWER_OUTCOME_MAX
};

struct drawer_dev {
	char deviceid[DRAWER_ID_MAX];  /* "" when unknown */
	uint8_t bssid[6];              /* its ITEAD-<id> soft-AP MAC; all zero: unknown */
	enum drawer_state state;
	enum drawer_outcome outcome;   /* when ENDED */
	char why[DRAWER_WHY_MAX];      /* "" for done */
};

struct drawer {
	struct drawer_dev devs[DRAWER_DEVICES_MAX];
	unsigned n;        /* recorded */
	unsigned dropped;  /* recorded beyond DRAWER_DEVICES_MAX (outcome counted only) */
	unsigned dropped_not_done;
};

void drawer_init(struct drawer *d);

/* Record one device's outcome at once (a device that ended before it was
 * provisioned). deviceid NULL or "" = unknown; bssid NULL = unknown;
 * why NULL = none (truncated to one line of DRAWER_WHY_MAX). Returns 0, or -ENOSPC
 * when the list is full (then counted in .dropped). */
int drawer_record(struct drawer *d, const char *deviceid, const uint8_t bssid[6],
		  enum drawer_outcome o, const char *why);

/* A device took the home WiFi (provisioned): its entry, state PROVISIONED. A device
 * already listed and not ended, by BSSID (when both known) or deviceid, keeps its
 * entry. Returns the index, or -ENOSPC (counted in .dropped as not done). */
int drawer_add(struct drawer *d, const char *deviceid, const uint8_t bssid[6]);

/* The emulated cloud heard from deviceid (stock_done: it acked its upgrade). Moves a
 * PROVISIONED or CALLED entry forward; a device not listed (provisioned before the
 * run, or its deviceid unknown at provisioning) is added with an unknown BSSID.
 * Ended and FINAL entries are not changed. Returns the index, -ENOSPC (the list is
 * full: not followed, not counted), or -EINVAL for an empty deviceid. */
int drawer_cloud(struct drawer *d, const char *deviceid, bool stock_done);

/* The next device for FinalStage: the first STOCK_DONE entry, now FINAL. Returns
 * its index, or -1 when none waits (or one is FINAL already: its index). */
int drawer_final_next(struct drawer *d);

/* The FINAL entry, or -1. */
int drawer_final_cur(const struct drawer *d);

/* End entry i (not ended yet) with an outcome and a why (as drawer_record). Returns
 * 0, or -EINVAL (out of range or ended already). */
int drawer_end(struct drawer *d, unsigned i, enum drawer_outcome o, const char *why);

/* How many entries are in state st. */
unsigned drawer_count(const struct drawer *d, enum drawer_state st);

/* Entries in stage 2: provisioned or calling, not stock-done yet. */
bool drawer_in_stage2(const struct drawer_dev *v);
unsigned drawer_stage2(const struct drawer *d);

/* Entries ended done (the dropped ones not counted). */
unsigned drawer_count_done(const struct drawer *d);

/* Entries not ended (every state but ENDED). */
unsigned drawer_open(const struct drawer *d);

/* True when at least one device was recorded and every one is done (an entry not
 * ended is not done). */
bool drawer_all_done(const struct drawer *d);

/* The summary line of device i (< d->n), e.g. "device 2 of 3: 1000abcdef (BSSID
 * D8:F1:5B:00:00:02): NOT done: <why>". Returns false when i is out of range. */
bool drawer_summary_line(const struct drawer *d, unsigned i, char *buf, size_t len);

const char *drawer_outcome_name(enum drawer_outcome o);
const char *drawer_state_name(enum drawer_state st);
