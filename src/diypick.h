/* diypick: which DIY-mode device a --diy run takes when several announce themselves, pure
 * (docs/diy.md "Several DIY devices at once"; issue 11).
 *
 * A run must never flash a device the user did not mean. So discovery collects the DIY-mode
 * announcements (dnssd_classify() = diy; LAN-mode devices are not candidates) by id:
 *  - with --device-id ID (want_id), the device announcing that id (case-insensitive) is
 *    taken at once; every other device is ignored and never asked anything;
 *  - without it, the first DIY-mode device starts a settle: DIYPICK_SETTLE_MS after both
 *    it and Avahi's AllForNow came (the others announcing now are in by then), never later
 *    than DIYPICK_WAIT_MAX_MS after it. Then one device: taken; several: DIYPICK_SEVERAL,
 *    and the run stops before anything is sent, listing them (diypick_format()) and asking
 *    for --device-id. A device withdrawn (goodbye) during the settle leaves the list.
 * --scan --device-id ID lists that device only (diypick_scan_filter()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diyscan.h"
#include "dnssd.h"

#define DIYPICK_MAX 16                        /* DIY-mode devices told apart in one run */
#define DIYPICK_SETTLE_MS DIYSCAN_SETTLE_MS   /* as --scan: the same devices are "on the LAN" */
#define DIYPICK_WAIT_MAX_MS DIYSCAN_BROWSE_MAX_MS /* after the first one, AllForNow or not */
#define DIYPICK_ADDR_MAX 15                   /* an IPv4 literal */

struct diypick_dev {
	char id[DNSSD_ID_MAX + 1];
	char addr[DIYPICK_ADDR_MAX + 1];
	char type[DNSSD_TYPE_MAX + 1];
	bool multi_channel;
};

struct diypick {
	char want_id[DNSSD_ID_MAX + 1]; /* --device-id; "" = none */
	struct diypick_dev dev[DIYPICK_MAX];
	unsigned n;
	bool full;                      /* more than DIYPICK_MAX were seen */
	bool all_for_now;
	uint64_t first_ms;              /* when the first candidate came (valid with n > 0) */
	uint64_t afn_ms;                /* when AllForNow came */
};

enum diypick_verdict {
	DIYPICK_WAIT = 0, /* nothing to take yet */
	DIYPICK_TAKE,     /* take dev[*which] */
	DIYPICK_SEVERAL,  /* several devices and no --device-id: stop, list them */
};

/* want_id: --device-id, NULL for none. */
void diypick_init(struct diypick *p, const char *want_id);

/* A DIY-mode announcement of d at addr (IPv4 literal) at now_ms: added, or updated when its
 * id is known already. Returns true when it is a candidate (it matches --device-id, or none
 * was given). */
bool diypick_found(struct diypick *p, const struct dnssd_device *d, const char *addr,
		   uint64_t now_ms);

/* The device with id was withdrawn (goodbye, expiry): it leaves the list. */
void diypick_removed(struct diypick *p, const char *id);

/* Avahi's AllForNow at now_ms (the first one counts). */
void diypick_all_for_now(struct diypick *p, uint64_t now_ms);

/* The decision at now_ms: TAKE (*which = the index), SEVERAL, or WAIT (*wake_ms = when to ask
 * again, absolute; 0 = on the next announcement only). */
enum diypick_verdict diypick_decide(const struct diypick *p, uint64_t now_ms, unsigned *which,
				    uint64_t *wake_ms);

/* The candidates for the user, sorted by id, one line each ("  <id>  <address>  <type>\n").
 * Returns the length written (cut at len - 1). */
size_t diypick_format(const struct diypick *p, char *buf, size_t len);

/* Equal ids, ignoring case (a user may type the hex in upper case). */
bool diypick_same_id(const char *a, const char *b);

/* --scan --device-id: keep only the entry of id in s. Returns how many entries were dropped. */
size_t diypick_scan_filter(struct diyscan *s, const char *id);
