#!/bin/sh
# netns-hook.sh up|down SSID CIDR [BSSID]
#
# The NM mock's activation hook (tests/nm/nmmock.py, parameter "hook") for tests
# that run in network namespaces: an activation of SSID adds CIDR to device
# $NM_HOOK_DEV in namespace $NM_HOOK_NS, its teardown removes it, so the
# addresses move as a real radio's would and sonota-c's netlink monitor sees the
# hop. The e2e suite's takeovers are to use it (docs/wifi.md, "What remains");
# tests/nm/run.sh netns checks it.
set -eu
what=$1
cidr=${3:-}
[ -n "$cidr" ] || exit 0
case $what in
up) ip -n "$NM_HOOK_NS" addr replace "$cidr" dev "$NM_HOOK_DEV" ;;
down) ip -n "$NM_HOOK_NS" addr del "$cidr" dev "$NM_HOOK_DEV" 2>/dev/null || true ;;
*) echo "netns-hook: unknown action '$what'" >&2; exit 2 ;;
esac
