/* netwatch: the host's IPv4 addresses, pushed as events from a NETLINK_ROUTE
 * socket that runs on the lws service loop (PROTOCOL.md §1.2, §8.3).
 *
 * The stage machine learns that the host joined the device AP (10.10.7.x), came
 * back home or reached FinalStage (192.168.4.2) from these events, within
 * milliseconds of the kernel's change, instead of SonOTA's 2 s polling. The
 * socket joins RTNLGRP_IPV4_IFADDR; a dup() of its fd is adopted into lws as a
 * raw file (lws closes what it adopts) and drained on LWS_CALLBACK_RAW_RX_FILE.
 *
 * Reported: IPv4 addresses outside 127.0.0.0/8, each once when it appears
 * (added=true) and once when it goes (added=false). Kernel notifications that
 * change nothing we report (lifetime refreshes on DHCP renewals, an address
 * already known) are dropped, as are IPv6 and every other message type.
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#define NETWATCH_TRACK_MAX 64 /* addresses remembered for de-duplication; a host
			       * with more still gets every event, undeduplicated */
#define NETWATCH_SNAPSHOT_MAX 64 /* a sensible size for netwatch_snapshot's out[] */
#define NETWATCH_RCVBUF (256 * 1024) /* netlink receive buffer: a burst of changes
				      * (an interface with many addresses going
				      * down) must not overrun it; if it does we
				      * re-dump (see netwatch.c) */

struct netwatch_addr {
	struct in_addr addr;     /* network byte order */
	uint8_t prefixlen;       /* 0..32 */
	int ifindex;             /* kernel interface index */
	char ifname[IF_NAMESIZE]; /* "wlan0"; the address label if the interface is gone */
};

/* Called on the lws service thread for every address that appears (added) or
 * disappears (!added). a is valid only during the call. */
typedef void (*netwatch_cb)(void *arg, bool added, const struct netwatch_addr *a);

struct netwatch;

/* The lws protocol that services the adopted netlink fd ("sonota-netwatch").
 * Add it to the protocol list of the vhost given to netwatch_start. It needs no
 * per-session data. netwatch_lws_callback is the same callback, for callers that
 * build a static protocol table. */
extern const struct lws_protocols netwatch_protocol;
int netwatch_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len);

/* Open the netlink socket, subscribe to IPv4 address changes, dump the current
 * addresses and report each of them through cb (added=true) before returning,
 * then adopt the socket into vh so that later changes arrive from the lws loop.
 * Must run on the lws service thread. Returns 0 and *ret (free with
 * netwatch_stop), or -errno (-ENOPROTOOPT: netwatch_protocol is not on vh). */
int netwatch_start(struct lws_vhost *vh, netwatch_cb cb, void *arg, struct netwatch **ret);

/* Stop reporting, close the adopted wsi and free everything. Safe with NULL, from
 * inside cb, and after the lws context was destroyed. Call it before
 * lws_context_destroy() to close the wsi in order. */
void netwatch_stop(struct netwatch *nw);

/* The host's current IPv4 addresses without 127.0.0.0/8, those of the interface
 * that carries the main table's default route first (the pre-flight menu's entry
 * [0]), the rest in kernel order. Works without lws (a one-shot netlink socket).
 * Fills at most max entries and sets *ret_n. Returns 0, 1 when more addresses
 * existed than max (the list was cut), or -errno. */
int netwatch_snapshot(struct netwatch_addr *out, size_t max, size_t *ret_n);

/* Decode one RTM_NEWADDR/RTM_DELADDR message (the socket's callback uses it; tests
 * feed crafted ones). Attributes are checked against a policy: IFA_LOCAL,
 * IFA_ADDRESS and IFA_BROADCAST exactly 4 bytes, IFA_LABEL a NUL-terminated
 * string of at most IFNAMSIZ bytes, IFA_CACHEINFO and IFA_FLAGS their sizes.
 * Returns 1 with *ret filled for a reportable IPv4 address (not 127/8), 0 for a
 * message to ignore (another type or family, no address), -EINVAL for a
 * malformed one (short header, an attribute that breaks the policy). */
struct nlmsghdr;
int netwatch_parse(struct nlmsghdr *nlh, struct netwatch_addr *ret);

/* Pure classification (PROTOCOL.md §1.2, §8.3). */

/* An address the device's DHCP can give the host on the ITEAD-<id> AP:
 * 10.10.7.0/24 except .1 (the device itself: a host that has it is on some
 * other network, and provisioning would talk to itself), .0 and .255 (network
 * and broadcast of the /24). SonOTA accepts any "10.10.7." prefix. */
bool netwatch_is_device_ap(struct in_addr a);

/* Exactly 192.168.4.2, the only address E2A ever contacts on FinalStage. */
bool netwatch_is_finalstage(struct in_addr a);

/* 127.0.0.0/8 */
bool netwatch_is_loopback(struct in_addr a);
