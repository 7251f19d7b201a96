#!/usr/bin/env bash
# One scenario of the NetworkManager client test (issue 10, docs/wifi.md):
#   run.sh CLIENT SCENARIO
# starts a private system bus (a path socket in a temporary directory; never the
# machine's bus), the NM mock (tests/nm/nmmock.py, on Debian's python3-dbusmock)
# with the scenario's parameters, and runs CLIENT SCENARIO against it with
# DBUS_SYSTEM_BUS_ADDRESS pointing at that bus. Everything it started is killed
# and the directory removed on every exit (trap). Exit 77 (skipped) when
# dbus-daemon or python3-dbusmock is missing (scripts/setup.sh installs them).
set -euo pipefail

client=$1
scenario=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3 # never a python3 from PATH: dbusmock is Debian's
mock_py=$here/nmmock.py
step_timeout=10 # seconds for the bus, the mock or a marker to appear

command -v dbus-daemon >/dev/null || { echo "SKIP: no dbus-daemon"; exit 77; }
"$py" -c 'import dbusmock' 2>/dev/null || { echo "SKIP: no python3-dbusmock"; exit 77; }

if [ "$scenario" = netns ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: netns needs root"; exit 77; }
	command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
fi

tmp=$(mktemp -d /tmp/sonota-nm.XXXXXX)
bus_pid= mock_pid= client_pid= netns=
cleanup() {
	local rc=$?
	[ -z "$netns" ] || ip netns del "$netns" 2>/dev/null || true
	for p in $client_pid $mock_pid $bus_pid; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "--- mock log"; tail -n 40 "$tmp/mock.log" 2>/dev/null || true
		echo "--- client output"; cat "$tmp/client.out" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: run CMD until it succeeds, at most SECONDS.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# shellcheck source=bus.sh
. "$here/bus.sh"
nmbus_start "$tmp" || { echo "the private bus did not start"; exit 1; }

# The scenarios' networks: home WiFi, a Sonoff in pairing mode (shows up when
# scanned for), the E2A image's FinalStage (same soft-AP MAC as the ITEAD AP).
home='{"ssid": "HomeNet", "psk": "homepass", "dhcp": "198.51.100.5/24", "strength": 80}'
itead_psk=12345678 itead_vanish=false itead_dhcp='"10.10.7.2/24"' itead_fail=null
version=1.42.4 wifi_on=true delay_ms=150 scan_error=null permissions=yes ap_iface=null finalstage_ssid=FinalStage extra_ap= extra_profile=
devices='[{"iface": "wlan0"}, {"iface": "eth0", "type": 1}]'
profiles='[{"id": "Home", "ssid": "HomeNet", "psk": "homepass", "timestamp": 100},
           {"id": "ITEAD-10000abcde", "ssid": "ITEAD-10000abcde", "psk": "12345678"},
           {"id": "sonota-old", "ssid": "ITEAD-10000fffff", "psk": "12345678"}]'
active='"Home"'
start_mock=true
hook=null
case "$scenario" in
netns)
	# the laptop namespace: its wlan0 gets the addresses the mock's activations give
	netns=sonota-nm-$$
	ip netns add "$netns"
	ip -n "$netns" link add wlan0 type veth peer name wlan0-peer
	ip -n "$netns" link set wlan0 up && ip -n "$netns" link set wlan0-peer up
	export NM_HOOK_NS=$netns NM_HOOK_DEV=wlan0
	hook="\"$here/netns-hook.sh\""
	;;
join)
	# the hook the e2e integration will use to move namespace addresses
	printf '#!/bin/sh\necho "$*" >> "%s/hook.log"\n' "$tmp" > "$tmp/hook.sh"
	chmod +x "$tmp/hook.sh"
	hook="\"$tmp/hook.sh\""
	;;
esac
case "$scenario" in
wrong-psk) itead_psk=otherpsk ;;
ap-vanish) itead_vanish=true ;;
no-lease) itead_dhcp=null ;;
supplicant-retry) itead_fail='[11, 6]' ;; # "802.1X supplicant took too long", once
old-nm) version=1.10.6 ;;
wifi-off) wifi_on=false ;;
no-permission) permissions=auth ;; # a user over SSH: polkit wants an agent
two-wifi)
	devices='[{"iface": "wlan0"}, {"iface": "wlan1"}]'
	active=null
	;;
iface)
	# a second adapter: home stays on wlan0, the device's APs are hopped on wlan1
	devices='[{"iface": "wlan0"}, {"iface": "wlan1"}]'
	ap_iface='"wlan1"'
	export NM_TEST_IFACE=wlan1
	;;
absent) start_mock=false ;;
sigterm) delay_ms=2000 ;; # a slow association: the signal lands mid-hop
scan-refused) scan_error='"Scanning not allowed while unavailable"' ;;
nobus) start_mock=false ;;
no-finalstage) finalstage_ssid=FinalStagX ;; # E2A never opened its AP
restore-gone)
	# a second known network, for NM to pick when Home's profile is deleted
	extra_ap=', {"ssid": "OfficeNet", "psk": "officepass", "dhcp": "203.0.113.9/24", "strength": 40}'
	extra_profile=', {"id": "Office", "ssid": "OfficeNet", "psk": "officepass", "timestamp": 50}'
	;;
esac
params=$(cat <<JSON
{"version": "$version", "wireless_enabled": $wifi_on, "devices": $devices,
 "delay_ms": $delay_ms, "scan_error": $scan_error, "permissions": "$permissions",
 "aps": [$home,
   {"ssid": "ITEAD-10000abcde", "psk": "$itead_psk", "dhcp": $itead_dhcp,
    "vanish": $itead_vanish, "fail_first": $itead_fail, "iface": $ap_iface,
    "bssid": "D8:F1:5B:00:00:01", "strength": 60},
   {"ssid": "$finalstage_ssid", "sec": "open", "dhcp": "192.168.4.2/24", "iface": $ap_iface,
    "bssid": "D8:F1:5B:00:00:01", "strength": 60}$extra_ap],
 "appear_on_scan": ["ITEAD-10000abcde", "$finalstage_ssid"],
 "profiles": ${profiles%]}$extra_profile], "active": $active, "hook": $hook}
JSON
)

run_mock() {
	"$py" -m dbusmock --system -t "$mock_py" -l "$tmp/mock.log" -p "$params" \
		>>"$tmp/mock.out" 2>&1 &
	mock_pid=$!
	nmbus_wait_owned || { echo "the NM mock did not start"; cat "$tmp/mock.out"; exit 1; }
}
$start_mock && run_mock
# no system bus at all: nm_start itself fails
[ "$scenario" = nobus ] && export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-such-bus"

marker() { grep -q "^MARK $1" "$tmp/client.out"; }

"$client" "$scenario" >"$tmp/client.out" 2>&1 &
client_pid=$!
case "$scenario" in
restart)
	# NM restarts while we are on the device's AP
	wait_for "$step_timeout" marker joined || { echo "the client never joined"; exit 1; }
	kill "$mock_pid"
	wait "$mock_pid" 2>/dev/null || true
	run_mock
	;;
netns)
	wait_for "$step_timeout" marker joined || { echo "the client never joined"; exit 1; }
	addrs=$(ip -n "$netns" -4 -o addr show dev wlan0)
	echo "on the device's AP: $addrs"
	case "$addrs" in *" 10.10.7.2/24 "*) ;; *) echo "FAIL: no 10.10.7.2/24 while joined"; exit 1 ;; esac
	case "$addrs" in *198.51.100.5*) echo "FAIL: the home address stayed while joined"; exit 1 ;; esac
	;;
bus-death)
	# the system bus itself goes away while we are on the device's AP
	wait_for "$step_timeout" marker joined || { echo "the client never joined"; exit 1; }
	kill -9 "$bus_pid"
	;;
sigterm)
	wait_for "$step_timeout" marker joining || { echo "the client never started joining"; exit 1; }
	kill -TERM "$client_pid"
	;;
kill9)
	wait_for "$step_timeout" marker joined || { echo "the client never joined"; exit 1; }
	kill -9 "$client_pid"
	wait "$client_pid" 2>/dev/null || true
	client_pid=
	cat "$tmp/client.out"
	# NM drops the client-bound volatile profile and autoconnects home
	exec 3>&1
	"$client" check-home
	exit $?
	;;
esac
rc=0
wait "$client_pid" || rc=$?
client_pid=
cat "$tmp/client.out"
if [ "$scenario" = netns ]; then
	addrs=$(ip -n "$netns" -4 -o addr show dev wlan0)
	echo "after the restore: $addrs"
	case "$addrs" in *" 198.51.100.5/24 "*) ;; *) echo "FAIL: home address not back"; rc=1 ;; esac
	case "$addrs" in *10.10.7.*) echo "FAIL: 10.10.7.2 left behind"; rc=1 ;; esac
fi
if [ "$scenario" = join ]; then
	# home up at start; down when we join ITEAD; ITEAD down when home comes back
	cat "$tmp/hook.log"
	# (the ITEAD AP's BSSID too: the e2e hook records whose FinalStage the radio is on)
	want=$'up HomeNet 198.51.100.5/24\ndown HomeNet 198.51.100.5/24\nup ITEAD-10000abcde 10.10.7.2/24 D8:F1:5B:00:00:01\ndown ITEAD-10000abcde 10.10.7.2/24 D8:F1:5B:00:00:01\nup HomeNet 198.51.100.5/24'
	[ "$(cat "$tmp/hook.log")" = "$want" ] || { echo "FAIL: hook calls differ from: $want"; rc=1; }
fi
exit "$rc"
