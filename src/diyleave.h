/* diyleave: the left-mdns stage's last word, pure (docs/diy.md "A device that reboots
 * without an mDNS goodbye"; DIY-PROTOCOL.md §5.7, §9.12).
 *
 * "Done" needs the device's _ewelink._tcp instance withdrawn. A device that sends the mDNS
 * goodbye is seen leaving at once; one that reboots silently stays in Avahi's cache until
 * its records expire (the PTR record: 75 minutes). So when the left-mdns limit
 * (DIYFLOW_LEAVE_MDNS_MS) passes without the goodbye, the adapter asks the device ONE
 * /zeroconf/info (without "deviceid", bounded by DIYFLOW_INFO_MS) and diyleave_judge()
 * reads the answer:
 *  - refused, reset or closed without a reply, or no answer in time: the DIY firmware no
 *    longer serves port 8081, as after a reboot into the new image. That is NOT the third
 *    proof (leaving mDNS was not observed; a device that lost its WiFi looks the same):
 *    DIYLEAVE_GONE, the route ends "unproven" (exit 6);
 *  - a /zeroconf reply (any code): the DIY firmware still runs: DIYLEAVE_STILL_DIY, failed;
 *  - bytes that are no DIY reply: something else answers on 8081, nothing is proven either
 *    way: DIYLEAVE_OTHER, failed (never closer to success than what is known).
 * The line written says exactly which proofs hold and which does not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diyflow.h"

#define DIYLEAVE_TEXT_MAX 512 /* the longest line below is about 400 bytes */

enum diyleave {
	DIYLEAVE_NONE = 0,  /* not probed yet */
	DIYLEAVE_GONE,      /* port 8081 refused / reset / silent: unproven */
	DIYLEAVE_STILL_DIY, /* it still answers /zeroconf: failed */
	DIYLEAVE_OTHER,     /* something else answers on 8081: failed */
};

struct diyleave_in {
	const char *ip;                  /* the device's address ("the device" when NULL) */
	const struct diyflow_result *res; /* how the probe ended (step INFO) */
	const char *fw_version;          /* the probe's fwVersion, NULL or "" when none */
	const char *fw_before;           /* the version read before ota_flash, NULL or "" */
};

/* The verdict on one probe, and its one line into buf (len > 0). */
enum diyleave diyleave_judge(const struct diyleave_in *in, char *buf, size_t len);

const char *diyleave_name(enum diyleave v); /* "none", "gone", "still-diy", "other" */
