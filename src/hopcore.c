/* hopcore: see hopcore.h. */
#include "config.h"

#include <string.h>

#include "hopcore.h"
#include "route-cloud.h"
#include "route-diy.h"

enum hop_action
hop_on_transition(int from, int to, bool terminal)
{
	if (terminal)
		return HOP_RESTORE_EXIT;
	if (from == to)
		return HOP_NONE;
	switch (to) {
	case ROUTE_WAIT_AP:
	case ROUTE_LOOK_NEXT:   /* --all: another device's ITEAD-<id> before home */
	case ROUTE_NEXT_DEVICE: /* --all: the next device's ITEAD-<id> */
		return HOP_JOIN_ITEAD;
	case ROUTE_WAIT_HOME:
		return HOP_HOME;
	case ROUTE_FINALSTAGE:
		/* back from final-delivered: E2A rebooted into its next image and
		 * opens FinalStage again; we stay joined (or NM rejoins) */
		return from == ROUTE_FINAL_DELIVERED ? HOP_NONE : HOP_JOIN_FINAL;
	default:
		return HOP_NONE;
	}
}

enum hop_action
hop_for_stage(int stage)
{
	switch (stage) {
	case ROUTE_WAIT_AP:
	case ROUTE_LOOK_NEXT:
	case ROUTE_NEXT_DEVICE:
		return HOP_JOIN_ITEAD;
	case ROUTE_WAIT_HOME:
		return HOP_HOME;
	case ROUTE_FINALSTAGE:
		return HOP_JOIN_FINAL;
	default:
		return HOP_NONE;
	}
}

enum hop_action
hop_for_diy_stage(int stage)
{
	return stage == RDIY_WAIT_AP ? HOP_JOIN_ITEAD : stage == RDIY_WAIT_HOME ? HOP_HOME : HOP_NONE;
}

enum hop_action
hop_on_diy_transition(int from, int to, bool terminal)
{
	if (terminal)
		return HOP_RESTORE_EXIT;
	return from == to ? HOP_NONE : hop_for_diy_stage(to);
}

const char *
hop_action_name(enum hop_action a)
{
	static const char *const names[_HOP_ACTION_MAX] = {
		[HOP_NONE] = "none",
		[HOP_JOIN_ITEAD] = "join-itead",
		[HOP_HOME] = "home",
		[HOP_JOIN_FINAL] = "join-finalstage",
		[HOP_RESTORE_EXIT] = "restore",
	};
	return (unsigned)a < _HOP_ACTION_MAX ? names[a] : "invalid";
}

bool
hop_home_elsewhere(int home_ifindex, int radio_ifindex)
{
	return home_ifindex > 0 && radio_ifindex > 0 && home_ifindex != radio_ifindex;
}

bool
hop_ssh_refuses(enum nmcore_ssh ssh, bool allow_ssh_drop)
{
	return ssh == NMCORE_SSH_ON_RADIO && !allow_ssh_drop;
}

int
hop_pick(const enum nmcore_ap_role *roles, const uint8_t (*bssids)[6], size_t n,
	 enum nmcore_ap_role want, const uint8_t prefer_bssid[6])
{
	return hop_pick_skip(roles, bssids, n, want, prefer_bssid, NULL, 0, NULL);
}

static bool
in_list(const uint8_t bssid[6], const uint8_t (*list)[6], size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (memcmp(bssid, list[k], 6) == 0)
			return true;
	return false;
}

int
hop_pick_skip(const enum nmcore_ap_role *roles, const uint8_t (*bssids)[6], size_t n,
	      enum nmcore_ap_role want, const uint8_t prefer_bssid[6],
	      const uint8_t (*skip)[6], size_t nskip, unsigned *skipped)
{
	static const uint8_t zero[6];
	int first = -1;

	if (skipped)
		*skipped = 0;
	for (size_t i = 0; i < n; i++) {
		if (roles[i] != want)
			continue;
		if (skip && in_list(bssids[i], skip, nskip)) {
			if (skipped)
				(*skipped)++;
			continue;
		}
		if (first < 0)
			first = (int)i;
		if (prefer_bssid && memcmp(prefer_bssid, zero, 6) != 0 &&
		    memcmp(bssids[i], prefer_bssid, 6) == 0)
			return (int)i;
	}
	return first;
}
