/* drawer: the devices of one --all run (issue 10 item 4, docs/wifi.md "Drawer
 * mode"): what became of each device taken over in turn, and the summary line per
 * device. Pure: no I/O; the adapter (src/takeover.c) records, src/hop.c asks
 * which pairing APs were taken already.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRAWER_DEVICES_MAX 32 /* devices per run: a drawer of Sonoffs; a run that meets
			       * more counts the rest in .dropped (the summary says so) */
#define DRAWER_ID_MAX 32      /* a deviceid ("1000abcdef") or "?" */
#define DRAWER_WHY_MAX 256    /* the one-line why of a device that is not done */

enum drawer_outcome {
	DRAWER_DONE = 0,     /* the final image delivered, FinalStage gone */
	DRAWER_FAILED,       /* a limit expired or provisioning gave up for it */
	DRAWER_INTERRUPTED,  /* the user stopped the run while it was in progress */
	_DRAWER_OUTCOME_MAX
};

struct drawer_dev {
	char deviceid[DRAWER_ID_MAX];  /* "" when unknown */
	uint8_t bssid[6];              /* its ITEAD-<id> soft-AP MAC; all zero: unknown */
	enum drawer_outcome outcome;
	char why[DRAWER_WHY_MAX];      /* "" for done */
};

struct drawer {
	struct drawer_dev devs[DRAWER_DEVICES_MAX];
	unsigned n;        /* recorded */
	unsigned dropped;  /* recorded beyond DRAWER_DEVICES_MAX (outcome counted only) */
	unsigned dropped_not_done;
};

void drawer_init(struct drawer *d);

/* Record one device's outcome. deviceid NULL or "" = unknown; bssid NULL = unknown;
 * why NULL = none (truncated to one line of DRAWER_WHY_MAX). Returns 0, or -ENOSPC
 * when the list is full (then counted in .dropped). */
int drawer_record(struct drawer *d, const char *deviceid, const uint8_t bssid[6],
		  enum drawer_outcome o, const char *why);

/* True when at least one device was recorded and every one is done. */
bool drawer_all_done(const struct drawer *d);

/* The summary line of device i (< d->n), e.g. "device 2 of 3: 1000abcdef (BSSID
 * D8:F1:5B:00:00:02): NOT done: <why>". Returns false when i is out of range. */
bool drawer_summary_line(const struct drawer *d, unsigned i, char *buf, size_t len);

const char *drawer_outcome_name(enum drawer_outcome o);
