/* diyscan: the lines of `--scan` (issue 11 item 1), pure. One entry per device found on the
 * LAN: what its DNS-SD announcement says (dnssd.h), completed by its /zeroconf/info reply
 * (diy.h) when the device answered one. Entries are merged by device id (a device seen on two
 * interfaces, or announced again, is one line) and sorted by id, so the listing is stable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diy.h"
#include "dnssd.h"

#define DIYSCAN_ADDR_MAX 46    /* INET6_ADDRSTRLEN - 1 */
#define DIYSCAN_MAX 64         /* devices listed; more on one LAN is not a home setup */
#define DIYSCAN_LINE_MAX 192   /* one text line */
#define DIYSCAN_SETTLE_MS 3000 /* browse this long after Avahi's AllForNow: resolvers answer
				* and a device announces twice, 1 s apart (§9.13) */
#define DIYSCAN_BROWSE_MAX_MS 10000 /* the whole browse, AllForNow or not */

struct diyscan_entry {
	char id[DNSSD_ID_MAX + 1];
	char addr[DIYSCAN_ADDR_MAX + 1];        /* "192.168.1.23"; "" when not resolved */
	char type[DNSSD_TYPE_MAX + 1];
	char fw_version[DIY_VERSION_MAX + 1];   /* from info; "" when unknown */
	enum diy_fw fw;
	bool has_ota_unlock, ota_unlock;
	enum dnssd_mode mode;
	enum diy_route route;
	bool multi_channel;                     /* "switches" in TXT or info (MINIR3): a request
						 * must not carry the deviceid key (§3.2) */
};

struct diyscan {
	struct diyscan_entry e[DIYSCAN_MAX];
	size_t n;
};

/* Add or update the entry of an announcement (d from dnssd_classify(), addr may be NULL).
 * Returns 0, or -ENOSPC when the table is full (the device is not listed), -EINVAL for an
 * entry without an id. */
int diyscan_add(struct diyscan *s, const struct dnssd_device *d, const char *addr);

/* Complete the entry of id with its info reply: firmware version/line and otaUnlock. 0 or
 * -ENOENT (no such entry). */
int diyscan_add_info(struct diyscan *s, const char *id, const struct diy_info *info);

/* Sort by id (call once before printing). */
void diyscan_sort(struct diyscan *s);

/* What applies to the device, the last column: "route diy" in DIY mode; in LAN mode
 * "needs DIY mode first: ..." (the button sequence); otherwise "route <route>". */
const char *diyscan_route_text(const struct diyscan_entry *e);

/* One line, columns separated by two spaces:
 *   <id>  <addr|->  <type>  fw <version|?>  otaUnlock <true|false|?>  <mode>  <route text>
 * Returns the length, or -E2BIG when out is too small (out then holds "" ). */
int diyscan_format(const struct diyscan_entry *e, char *out, size_t outlen);

/* The same as one JSON object (keys id, address, type, fwVersion, otaUnlock, mode, route;
 * null for unknowns; LAN mode adds "next": the route text), malloc'd, freed by the
 * caller; NULL on OOM. */
char *diyscan_json(const struct diyscan_entry *e);

/* How much longer --scan browses, in ms (0: stop now): until DIYSCAN_SETTLE_MS after
 * AllForNow, never past DIYSCAN_BROWSE_MAX_MS since the start. */
unsigned diyscan_wait_ms(uint64_t elapsed_ms, bool all_for_now, uint64_t since_all_for_now_ms);
