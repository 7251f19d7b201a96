/* diyhidden: why a device named by --device-ip does not show up over mDNS while Avahi runs,
 * pure (docs/diy.md "What remains" 2; issue 11 item 1, "a device that stays hidden gets a
 * diagnosis").
 *
 * The device answered /zeroconf/info at its address, so it is in DIY mode and reachable;
 * if Avahi still lists no announcement of it DIYHIDDEN_SETTLE_MS after its AllForNow, its
 * multicast does not reach this computer. Two causes are told apart by the address alone:
 *  - it is not on any subnet of this computer's interfaces: mDNS (link-local multicast)
 *    does not cross routers;
 *  - it is: multicast is blocked between the two (AP/client isolation, a guest network,
 *    IGMP snooping, Docker or a VM network).
 * Either way the left-mDNS proof is unavailable: a reported success will end "unproven"
 * (exit 6), and that is said at once, not only at the end.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIYHIDDEN_SETTLE_MS 3000 /* after AllForNow: an announcement being resolved is in */
#define DIYHIDDEN_NETS_MAX 32    /* local IPv4 subnets looked at */

struct diyhidden_net {
	uint32_t addr, mask; /* network byte order */
};

/* Is ip (network order) on one of nets? With n == 0 (not known) true: "another subnet" is
 * never claimed without knowing the interfaces. A /32 or a 0.0.0.0/0 mask is skipped (a
 * point-to-point address, a default: no link to share). */
bool diyhidden_on_link(uint32_t ip, const struct diyhidden_net *nets, size_t n);

enum diyhidden {
	DIYHIDDEN_BLOCKED = 0, /* same subnet: multicast blocked */
	DIYHIDDEN_SUBNET,      /* another subnet: mDNS does not cross routers */
};

/* The verdict and its line into buf (ip is the --device-ip literal); *why gets the short
 * reason for the final "unproven" line (static). */
enum diyhidden diyhidden_unannounced(const char *ip, bool on_link, char *buf, size_t len,
				     const char **why);
