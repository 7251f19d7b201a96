/* hopcore: the pure decisions of the WiFi hop driver (src/hop.c, docs/wifi.md):
 * which hop a transition of the cloud route calls for, whether the SSH check
 * refuses the run, and which access point of a scan to join. No I/O.
 * Built also with -Dnm=disabled (its unit test runs there too).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nmcore.h"

#define HOP_ITEAD_PSK "12345678"    /* every ITEAD-<id> pairing AP (PROTOCOL.md §1.2) */
#define HOP_HOME_GRACE_MS 15000     /* on the way home: NM's own autoconnect first, then
				     * we activate the saved profile ourselves */
#define HOP_EXIT_GRACE_MS 0         /* on exit: activate home at once */
#define HOP_EXIT_WAIT_MS 20000      /* how long the exit waits for the restore (NM
				     * autoconnects home anyway once our client-bound
				     * profile goes with our bus connection) */
#define HOP_RESCAN_MS 3000          /* no ITEAD-* / FinalStage in the scan yet: scan again */
#define HOP_DISCOVERY_MS 12000      /* pre-flight: NM's discovery, at most */

enum hop_action {
	HOP_NONE = 0,     /* nothing to do */
	HOP_JOIN_ITEAD,   /* scan, join ITEAD-<id> (WPA2, HOP_ITEAD_PSK) */
	HOP_HOME,         /* let NM autoconnect home, restore after HOP_HOME_GRACE_MS */
	HOP_JOIN_FINAL,   /* scan, join the open FinalStage */
	HOP_RESTORE_EXIT, /* the run ends: restore the user's network, wait for it */
	_HOP_ACTION_MAX
};

/* The hop a transition of the cloud route (route-cloud.h stages) calls for:
 * entering wait-ap joins ITEAD-<id>; entering wait-home goes home; entering
 * finalstage from stage 2 (not back from final-delivered) joins FinalStage;
 * any terminal stage restores. A self-transition calls for nothing. */
enum hop_action hop_on_transition(int from, int to, bool terminal);
/* (--all: entering look-next or next-device joins the next ITEAD-<id> too; from
 * next-device, finalstage joins the next device's FinalStage and wait-home goes
 * home.) */

/* The hop a transition of the DIY route (route-diy.h, --diy --pair) calls for:
 * entering wait-ap joins ITEAD-<id>, entering wait-home goes home, a terminal
 * stage restores; nothing else (the DIY device is on the home WiFi). */
enum hop_action hop_on_diy_transition(int from, int to, bool terminal);
/* The same for a driver that starts over in a DIY stage (a restarted NM). */
enum hop_action hop_for_diy_stage(int stage);

/* The hop the cloud route's stage calls for when the driver starts over in it (a
 * restarted NetworkManager): wait-ap, look-next and next-device join ITEAD-<id>,
 * wait-home goes home, finalstage joins FinalStage; others need none. */
enum hop_action hop_for_stage(int stage);

const char *hop_action_name(enum hop_action a);

/* The serving address is on another interface than the radio hopped (a wired
 * home link, or a second adapter with --wifi-iface): the radio's hops never take
 * it away, so the way home (HOP_HOME) is not needed. home_ifindex, radio_ifindex:
 * kernel interface indexes, 0 (or less) when unknown: then false (go home, as
 * with one radio). The exit's restore is not affected. */
bool hop_home_elsewhere(int home_ifindex, int radio_ifindex);

/* The SSH check refuses to start: the session rides on the radio to be hopped
 * and --allow-ssh-drop was not given. */
bool hop_ssh_refuses(enum nmcore_ssh ssh, bool allow_ssh_drop);

/* Which AP to join among n (strongest first, as nm_aps gives them), by their
 * roles and BSSIDs: the first of role want; for FinalStage one whose BSSID is
 * prefer_bssid (the soft-AP MAC of the ITEAD-<id> joined before; all zero: none)
 * wins over a stronger one. Returns the index, or -1. */
int hop_pick(const enum nmcore_ap_role *roles, const uint8_t (*bssids)[6], size_t n,
	     enum nmcore_ap_role want, const uint8_t prefer_bssid[6]);

/* As hop_pick, but an AP whose BSSID is one of skip[0..nskip) is never picked
 * (--all: the devices taken over in this run already, done or not: a done one runs
 * the new firmware, a failed one would fail again). *skipped (may be NULL) counts
 * the APs of role want passed over. */
int hop_pick_skip(const enum nmcore_ap_role *roles, const uint8_t (*bssids)[6], size_t n,
		  enum nmcore_ap_role want, const uint8_t prefer_bssid[6],
		  const uint8_t (*skip)[6], size_t nskip, unsigned *skipped);
