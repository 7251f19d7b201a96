#!/usr/bin/env bash
# The real sonota-c against the NetworkManager mock (issue 10, docs/wifi.md):
#   run-sonota.sh SONOTA_BIN MKIMAGE_BIN SCENARIO
# A private system bus (a path socket in a temporary directory; never the
# machine's bus), the NM mock (nmmock.py) whose activations move the addresses of
# "wlan0" in a network namespace of ours (netns-hook.sh), and sonota-c in that
# namespace with DBUS_SYSTEM_BUS_ADDRESS pointing at the bus. Scenarios:
#   auto    pre-flight prints the NM facts; entering wait-ap, sonota-c joins
#           ITEAD-<id> by itself (a sonota-* volatile, client-bound profile is
#           active in the mock and 10.10.7.2 appears); SIGTERM restores Home and
#           leaves no sonota-* profile
#   manual  --wifi manual: one line, no NM call
#   absent  no NetworkManager on the bus: one line saying why, manual hops
#   ssh     run under a fake sshd whose session address is on wlan0: refused at
#           pre-flight (exit 5) without --allow-ssh-drop
#   ssh-allow  the same with --allow-ssh-drop: it hops
# Everything started is killed, the namespace deleted and the directory removed on
# every exit (trap). Exit 77 (skipped) without root, ip(8), dbus-daemon or
# python3-dbusmock.
set -euo pipefail

sonota=$1
mkimage=$2
scenario=$3
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3 # never a python3 from PATH: dbusmock is Debian's
step_timeout=10     # seconds for the bus, the mock or a line to appear

command -v dbus-daemon >/dev/null || { echo "SKIP: no dbus-daemon"; exit 77; }
"$py" -c 'import dbusmock' 2>/dev/null || { echo "SKIP: no python3-dbusmock"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a network namespace)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl (a throw-away certificate)"; exit 77; }

tmp=$(mktemp -d /tmp/sonota-nmrun.XXXXXX)
netns=sonota-nmrun-$$
bus_pid= mock_pid= sonota_pid=
cleanup() {
	local rc=$?
	for p in $sonota_pid $mock_pid $bus_pid; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	ip netns del "$netns" 2>/dev/null || true
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "--- mock log"; tail -n 40 "$tmp/mock.log" 2>/dev/null || true
		echo "--- sonota-c output"; cat "$tmp/sonota.out" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
fail() { echo "FAIL: $*"; exit 1; }
said() { grep -q -- "$1" "$tmp/sonota.out"; }
expect() { wait_for "$step_timeout" said "$1" || fail "sonota-c never said: $1"; echo "ok: $1"; }

# The laptop: a namespace whose wlan0 gets the addresses the mock's activations give.
ip netns add "$netns"
ip -n "$netns" link set lo up
ip -n "$netns" link add wlan0 type veth peer name wlan0-peer
ip -n "$netns" link set wlan0 up && ip -n "$netns" link set wlan0-peer up
export NM_HOOK_NS=$netns NM_HOOK_DEV=wlan0

# shellcheck source=bus.sh
. "$here/bus.sh"
nmbus_start "$tmp" || fail "the private bus did not start"

# nm PY: run PY with `bus`, `nm` (the manager) and `dump()` (the mock's state).
nm() {
	"$py" - <<PY
import json, sys, time
import dbus
bus = dbus.SystemBus()
def dump():
    o = bus.get_object('org.freedesktop.NetworkManager', '/org/freedesktop')
    return json.loads(o.Dump(dbus_interface='org.freedesktop.DBus.Mock'))
$1
PY
}

params=$(cat <<JSON
{"version": "1.42.4", "devices": [{"iface": "wlan0"}], "delay_ms": 150,
 "aps": [{"ssid": "HomeNet", "psk": "homepass", "dhcp": "198.51.100.5/24", "strength": 80},
   {"ssid": "ITEAD-10000abcde", "psk": "12345678", "dhcp": "10.10.7.2/24",
    "bssid": "D8:F1:5B:00:00:01", "strength": 60},
   {"ssid": "FinalStage", "sec": "open", "dhcp": "192.168.4.2/24",
    "bssid": "D8:F1:5B:00:00:01", "strength": 60}],
 "appear_on_scan": ["ITEAD-10000abcde", "FinalStage"],
 "profiles": [{"id": "Home", "ssid": "HomeNet", "psk": "homepass", "timestamp": 100}],
 "active": "Home", "hook": "$here/netns-hook.sh"}
JSON
)
if [ "$scenario" != absent ]; then
	"$py" -m dbusmock --system -t "$here/nmmock.py" -l "$tmp/mock.log" -p "$params" \
		>>"$tmp/mock.out" 2>&1 &
	mock_pid=$!
	nmbus_wait_owned || fail "the NM mock did not start"
	# the mock's start activated Home: the hook gave wlan0 the home address
	wait_for "$step_timeout" sh -c "ip -n $netns -4 -o addr show dev wlan0 | grep -q 198.51.100.5" ||
		fail "the home address did not appear"
else
	ip -n "$netns" addr add 198.51.100.5/24 dev wlan0
fi

"$mkimage" set "$tmp/img" >"$tmp/mkimage.out" 2>&1 || { cat "$tmp/mkimage.out"; fail "mkimage"; }
wifi=()
case "$scenario" in
auto) wifi=(--wifi auto) ;;
manual) wifi=(--wifi manual) ;;
ssh-allow) wifi=(--allow-ssh-drop) ;;
esac
# a throw-away certificate (never the machine's state directory)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=sonota-nmrun -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
	fail "openssl req"
# sonota-c in the namespace, bounded (the test's own limit is 60 s); for "ssh", under
# a shell named sshd whose environment says the session came in on 198.51.100.5, the
# address on wlan0 (nmssh reads the ancestors' comm and environ from /proc)
launcher=()
if [ "$scenario" = ssh ] || [ "$scenario" = ssh-allow ]; then
	cp "$(command -v bash)" "$tmp/sshd"
	launcher=(env "SSH_CONNECTION=198.51.100.1 50000 198.51.100.5 22" "$tmp/sshd" -c '"$@"; exit $?' sshd)
fi
ip netns exec "$netns" "${launcher[@]}" timeout -s KILL 40 "$sonota" --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
	--images "$tmp/img" --no-log-file -v --serving-host 198.51.100.5 \
	--wifi-ssid HomeNet --wifi-password homepass "${wifi[@]}" \
	>"$tmp/sonota.out" 2>&1 </dev/null &
sonota_pid=$!

stop_sonota() {
	local target=$sonota_pid
	# under the fake sshd: signal its child (timeout, which passes it to sonota-c)
	[ "${#launcher[@]}" = 0 ] || target=$(pgrep -P "$sonota_pid" | head -n 1)
	kill -TERM "$target"
	local rc=0
	wait "$sonota_pid" || rc=$?
	sonota_pid=
	echo "sonota-c exited $rc"
	[ "$rc" = 130 ] || fail "exit code $rc after SIGTERM, wanted 130"
}

case "$scenario" in
auto)
	# pre-flight: the NM facts
	expect 'WiFi: NetworkManager 1.42.4'
	expect 'WiFi: .*Home'
	expect 'WiFi hops: auto, through NetworkManager on wlan0'
	# entering wait-ap: scan and join, by itself
	expect 'stage: .*wait-ap'
	expect 'WiFi: joining ITEAD-10000abcde'
	expect 'WiFi: joined (address 10.10.7.2/24)'
	expect 'this computer joined the device.s WiFi (10.10.7.2)'
	nm "
d = dump()
assert d['devices']['wlan0']['active'].startswith('sonota-'), d['devices']
a = d['add2'][-1]
print('add2 options:', a)
s = json.dumps(a)
assert 'volatile' in s and 'dbus-client' in s, s
print('ok: mock: %s active on wlan0, volatile and client-bound' % d['devices']['wlan0']['active'])
" || fail "no sonota-* volatile profile active in the mock"
	stop_sonota
	said 'WiFi: restoring Home' || fail "no restore line"
	# auto mode: the instruction asks for the button only (route_cloud_facts.hops_auto)
	said 'sonota-c joins its WiFi "ITEAD-<id>" itself' || fail "no auto-mode instruction"
	said 'password 12345678' && fail "a manual-hop instruction in auto mode"
	said 'WiFi: Home is back' || fail "the restore did not finish before exit"
	nm "
d = dump()
assert d['devices']['wlan0']['active'] == 'Home', d['devices']
left = [p for p in d['profiles'] if p.startswith('sonota-')]
assert not left, left
print('ok: mock: Home active, no sonota-* profile left:', d['profiles'])
" || fail "Home not restored, or a sonota-* profile left"
	addrs=$(ip -n "$netns" -4 -o addr show dev wlan0)
	case "$addrs" in *" 198.51.100.5/24 "*) ;; *) fail "home address not back: $addrs" ;; esac
	case "$addrs" in *10.10.7.*) fail "10.10.7.2 left behind: $addrs" ;; esac
	echo "ok: the laptop's wlan0 is home again"
	;;
manual)
	expect 'WiFi hops: manual (--wifi manual)'
	expect 'stage: .*wait-ap'
	# manual mode: the instruction asks the user to join (hops_auto unset)
	expect 'then join this computer to the WiFi "ITEAD-<id>", password 12345678'
	stop_sonota
	[ "$(grep -c 'WiFi hops' "$tmp/sonota.out")" = 1 ] || fail "not exactly one WiFi hops line"
	said 'WiFi: joining' && fail "joined in manual mode"
	nm "
d = dump()
assert d['devices']['wlan0']['active'] == 'Home', d['devices']
assert not d['add2'], d['add2']
print('ok: mock: untouched')" || fail "the mock was touched in manual mode"
	;;
ssh)
	# the SSH session rides on wlan0: refused at pre-flight, exit 5, nothing hopped
	rc=0
	wait "$sonota_pid" || rc=$?
	sonota_pid=
	echo "sonota-c exited $rc"
	[ "$rc" = 5 ] || fail "exit code $rc, wanted 5 (pre-flight)"
	said 'WiFi: .*SSH.*wlan0' || fail "no SSH fact line"
	said 'your SSH session rides on wlan0' || fail "no refusal line"
	nm "
d = dump()
assert d['devices']['wlan0']['active'] == 'Home', d['devices']
assert not d['add2'], d['add2']
print('ok: mock: untouched')" || fail "the mock was touched after the refusal"
	;;
ssh-allow)
	expect 'WiFi: SSH session rides on the radio'
	expect 'WiFi hops: auto, through NetworkManager on wlan0'
	expect 'WiFi: joining ITEAD-10000abcde'
	stop_sonota
	said 'WiFi: Home is back' || fail "the restore did not finish before exit"
	;;
absent)
	expect 'WiFi hops: manual: .*NetworkManager'
	expect 'stage: .*wait-ap'
	stop_sonota
	[ "$(grep -c 'WiFi hops' "$tmp/sonota.out")" = 1 ] || fail "not exactly one WiFi hops line"
	;;
*) fail "unknown scenario $scenario" ;;
esac
cat "$tmp/sonota.out"
echo "PASS: $scenario"
