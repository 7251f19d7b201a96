#!/usr/bin/env bash
# One case of the Avahi discovery test (issue 11 §1, docs/diy.md "Discovery"):
#   run.sh CLIENT DIYSIM MODELS CASE SONOTA SCAN_IP
# builds the namespaces, the private bus and a real avahi-daemon (lib.sh), puts the
# simulated devices on the home LAN (tests/diysim for DIY mode, mdnsannounce.py for
# the LAN-mode device and a clean goodbye), runs CLIENT (test-avahi-client) and checks
# its event lines exactly; the scan-* cases run `SONOTA --scan` there instead, and the
# scan-ip* cases SCAN_IP (test-scan-ip: scan_run_at, `--scan --device-ip IP`) without Avahi. Everything is torn down on every exit (trap); every wait is
# bounded. Exit 77 (skipped) without root or a package scripts/setup.sh installs.
set -euo pipefail

client=$1 diysim=$2 models=$3 case=$4 sonota=$5 scan_ip=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
announce=$here/mdnsannounce.py
client_timeout=20 # seconds for the client's condition (it answers in about 2 s)

. "$here/lib.sh"
why=$(avahi_env_check) || { echo "SKIP: $why"; exit 77; }

tmp=$(mktemp -d /tmp/sonota-avahi.XXXXXX)
pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	avahi_env_down
	wait 2>/dev/null || true
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "--- avahi-daemon log"; tail -n 30 "$tmp/avahi.log" 2>/dev/null || true
		for f in "$tmp"/dev-*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }
		done
	fi
	[ -n "${AVAHI_KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# diy N MODEL ID: a diysim device at .(50+N), announcing over multicast
diy() {
	local ip
	ip=$(avahi_dev_addr "$1")
	ip netns exec "$AVAHI_NS_DEV" timeout 60 "$diysim" --model "$models/$2.model" --deviceid "$3" --bind "$ip" \
		--mdns 224.0.0.251:5353 --timeout 50 >"$tmp/dev-$3.log" 2>&1 &
	pids+=($!)
}
# announcer N ID TXT...: mdnsannounce.py at .(50+N); goodbye on SIGTERM
announcer() {
	local n=$1 id=$2 ip args=()
	shift 2
	ip=$(avahi_dev_addr "$n")
	while [ $# -gt 0 ]; do
		case $1 in
		--then-txt) args+=(--then-txt "$2"); shift 2 ;;
		*) args+=(--txt "$1"); shift ;;
		esac
	done
	ip netns exec "$AVAHI_NS_DEV" timeout 60 "$py" "$announce" --bind "$ip" --id "$id" --timeout 50 "${args[@]}" \
		>"$tmp/dev-$id.log" 2>&1 &
	pids+=($!)
	announcer_pid=$!
}
diy_txt=(txtvers=1 id=1000bbbb01 type=diy_plug apivers=1 seq=1
	'data1={"switch":"off","startup":"off","pulse":"off","pulseWidth":500,"rssi":-50}')

# expect LINE: the client printed exactly this line
expect() {
	grep -qxF -- "$1" "$tmp/client.out" || { echo "FAIL: missing line: $1"; return 1; }
}
run_client() {
	ip netns exec "$AVAHI_NS_HOST" "$client" "$@" >"$tmp/client.out" 2>&1 &
	client_pid=$!
	pids+=($client_pid)
}
wait_line() { # wait_line SECONDS PATTERN
	_avahi_wait "$1" grep -q -- "$2" "$tmp/client.out"
}

rc=0 got=0
case "$case" in
found)
	avahi_env_up "$tmp"
	diy 1 r3-3.3 1000aaaa33
	diy 2 r3-3.6 1000aaaa36
	diy 3 r3-3.7 1000aaaa37
	diy 4 minir3 1000aaaa4e
	announcer 5 1000aaaa1a txtvers=1 id=1000aaaa1a type=plug apivers=1 seq=3 encrypt=true \
		iv=MTIzNDU2Nzg5MGFiY2RlZg== data1=q83vEjRWeJA=
	run_client found:1000aaaa33,1000aaaa36,1000aaaa37,1000aaaa4e,1000aaaa1a "$client_timeout"
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	s=$AVAHI_SUBNET
	expect "EV found eWeLink_1000aaaa33 id=1000aaaa33 type=diy_plug addr=$s.51:8081 mode=diy route=diy" || rc=1
	expect "EV found eWeLink_1000aaaa36 id=1000aaaa36 type=diy_plug addr=$s.52:8081 mode=diy route=diy" || rc=1
	expect "EV found eWeLink_1000aaaa37 id=1000aaaa37 type=diy_plug addr=$s.53:8081 mode=diy route=diy" || rc=1
	expect "EV found eWeLink_1000aaaa4e id=1000aaaa4e type=diy_plug addr=$s.54:8081 mode=diy route=diy" || rc=1
	expect "EV found eWeLink_1000aaaa1a id=1000aaaa1a type=plug addr=$s.55:8081 mode=lan route=none" || rc=1
	;;
removed)
	avahi_env_up "$tmp"
	announcer 1 1000bbbb01 "${diy_txt[@]}"
	run_client removed:1000bbbb01 "$client_timeout"
	wait_line 10 "^EV found eWeLink_1000bbbb01 " || { echo "FAIL: never found"; exit 1; }
	kill -TERM "$announcer_pid" # the goodbye (TTL 0)
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "EV removed eWeLink_1000bbbb01 id=1000bbbb01" || rc=1
	;;
txt-change)
	# a new TXT for the same instance (here: it turns to LAN mode): FOUND again, new mode
	avahi_env_up "$tmp"
	announcer 1 1000bbbb01 "${diy_txt[@]}" --then-txt txtvers=1 --then-txt id=1000bbbb01 \
		--then-txt type=diy_plug --then-txt apivers=1 --then-txt seq=2 \
		--then-txt encrypt=true --then-txt iv=MTIzNDU2Nzg5MGFiY2RlZg== \
		--then-txt data1=q83vEjRWeJA=
	run_client changed:1000bbbb01 "$client_timeout"
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "EV found eWeLink_1000bbbb01 id=1000bbbb01 type=diy_plug addr=$AVAHI_SUBNET.51:8081 mode=diy route=diy" || rc=1
	expect "EV found eWeLink_1000bbbb01 id=1000bbbb01 type=diy_plug addr=$AVAHI_SUBNET.51:8081 mode=lan route=none" || rc=1
	;;
bus-death)
	# the system bus itself dies: GONE, the bus' loss reaches the browser
	avahi_env_up "$tmp"
	run_client gone "$client_timeout"
	wait_line 10 "^EV all-for-now" || { echo "FAIL: no AllForNow"; cat "$tmp/client.out"; exit 1; }
	kill -9 "$AVAHI_BUS_PID"
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "EV gone the system D-Bus connection was lost" || rc=1
	;;
gone)
	avahi_env_up "$tmp"
	run_client gone "$client_timeout"
	wait_line 10 "^EV all-for-now" || { echo "FAIL: no AllForNow"; cat "$tmp/client.out"; exit 1; }
	avahi_daemon_stop
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "EV gone avahi-daemon left the system D-Bus (stopped or restarted)" || rc=1
	;;
absent)
	avahi_env_up "$tmp" nodaemon
	run_client gone "$client_timeout"
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "EV gone avahi-daemon is not running (nobody owns org.freedesktop.Avahi on the system D-Bus)" || rc=1
	;;
shared)
	avahi_env_up "$tmp"
	announcer 1 1000bbbb01 "${diy_txt[@]}"
	run_client shared:1000bbbb01 "$client_timeout"
	wait "$client_pid" || rc=$?
	cat "$tmp/client.out"
	expect "NM manual NetworkManager is not running" || rc=1
	[ "$(grep -c '^EV found eWeLink_1000bbbb01 ' "$tmp/client.out")" -ge 2 ] ||
		{ echo "FAIL: the second browse on the shared bus found nothing"; rc=1; }
	;;
scan|scan-json)
	avahi_env_up "$tmp"
	diy 1 r3-3.3 1000aaaa33
	diy 2 r3-3.6 1000aaaa36
	diy 3 r3-3.7 1000aaaa37
	diy 4 minir3 1000aaaa4e
	announcer 5 1000aaaa1a txtvers=1 id=1000aaaa1a type=plug apivers=1 seq=3 encrypt=true \
		iv=MTIzNDU2Nzg5MGFiY2RlZg== data1=q83vEjRWeJA=
	# announced in DIY mode, but nothing answers on 8081: listed without fw/otaUnlock
	announcer 6 1000aaaa6f txtvers=1 id=1000aaaa6f type=diy_plug apivers=1 seq=1 \
		'data1={"switch":"off","startup":"off","pulse":"off","pulseWidth":500,"rssi":-50}'
	sleep 1 # the devices' first announcements
	json=
	[ "$case" = scan-json ] && json=--json
	start=$SECONDS
	ip netns exec "$AVAHI_NS_HOST" timeout 30 "$sonota" --scan $json >"$tmp/client.out" \
		2>"$tmp/scan.err" || rc=$?
	echo "exit $rc after $((SECONDS - start)) s"
	cat "$tmp/client.out" "$tmp/scan.err"
	s=$AVAHI_SUBNET
	if [ "$case" = scan ]; then
		want="1000aaaa1a  $s.55  plug  fw ?  otaUnlock ?  lan  needs DIY mode first: hold the button 5 s, then 5 s more (docs/diy.md)
1000aaaa33  $s.51  diy_plug  fw 3.3-3.4  otaUnlock false  diy  route diy
1000aaaa36  $s.52  diy_plug  fw 3.6.0  otaUnlock false  diy  route diy
1000aaaa37  $s.53  diy_plug  fw 3.7.6  otaUnlock false  diy  route diy
1000aaaa4e  $s.54  diy_plug  fw 1.4.0  otaUnlock false  diy  route diy
1000aaaa6f  $s.56  diy_plug  fw ?  otaUnlock ?  diy  route diy"
	else
		want="{\"id\":\"1000aaaa1a\",\"address\":\"$s.55\",\"type\":\"plug\",\"fwVersion\":null,\"otaUnlock\":null,\"mode\":\"lan\",\"route\":\"none\",\"next\":\"needs DIY mode first: hold the button 5 s, then 5 s more (docs/diy.md)\"}
{\"id\":\"1000aaaa33\",\"address\":\"$s.51\",\"type\":\"diy_plug\",\"fwVersion\":\"3.3-3.4\",\"otaUnlock\":false,\"mode\":\"diy\",\"route\":\"diy\"}
{\"id\":\"1000aaaa36\",\"address\":\"$s.52\",\"type\":\"diy_plug\",\"fwVersion\":\"3.6.0\",\"otaUnlock\":false,\"mode\":\"diy\",\"route\":\"diy\"}
{\"id\":\"1000aaaa37\",\"address\":\"$s.53\",\"type\":\"diy_plug\",\"fwVersion\":\"3.7.6\",\"otaUnlock\":false,\"mode\":\"diy\",\"route\":\"diy\"}
{\"id\":\"1000aaaa4e\",\"address\":\"$s.54\",\"type\":\"diy_plug\",\"fwVersion\":\"1.4.0\",\"otaUnlock\":false,\"mode\":\"diy\",\"route\":\"diy\"}
{\"id\":\"1000aaaa6f\",\"address\":\"$s.56\",\"type\":\"diy_plug\",\"fwVersion\":null,\"otaUnlock\":null,\"mode\":\"diy\",\"route\":\"diy\"}"
	fi
	[ "$rc" = 0 ] || { echo "FAIL: exit $rc, want 0"; rc=1; }
	[ "$(cat "$tmp/client.out")" = "$want" ] || { echo "FAIL: the listing differs from:"; echo "$want"; rc=1; }
	grep -q "^sonota-c: 1000aaaa6f at $s.56: no /zeroconf/info: " "$tmp/scan.err" ||
		{ echo "FAIL: the silent device is not explained"; rc=1; }
	;;
scan-none)
	avahi_env_up "$tmp"
	ip netns exec "$AVAHI_NS_HOST" timeout 30 "$sonota" --scan >"$tmp/client.out" \
		2>"$tmp/scan.err" || got=$?
	cat "$tmp/client.out" "$tmp/scan.err"
	[ "$got" = 1 ] || { echo "FAIL: exit $got, want 1"; rc=1; }
	[ ! -s "$tmp/client.out" ] || { echo "FAIL: a listing without devices"; rc=1; }
	grep -qxF "sonota-c: no Sonoff found on this LAN: no eWeLink device visible: mDNS may be blocked on this network, the device may be on another subnet or not in DIY mode; try --device-ip" "$tmp/scan.err" ||
		{ echo "FAIL: no diagnosis"; rc=1; }
	;;
scan-noavahi)
	avahi_env_up "$tmp" nodaemon
	ip netns exec "$AVAHI_NS_HOST" timeout 30 "$sonota" --scan >"$tmp/client.out" \
		2>"$tmp/scan.err" || got=$?
	cat "$tmp/client.out" "$tmp/scan.err"
	[ "$got" = 1 ] || { echo "FAIL: exit $got, want 1"; rc=1; }
	grep -qxF "sonota-c: cannot list the devices on this LAN: avahi-daemon is not running (nobody owns org.freedesktop.Avahi on the system D-Bus); name the device with --device-ip IP" "$tmp/scan.err" ||
		{ echo "FAIL: no clear message"; rc=1; }
	;;
scan-nobus)
	avahi_env_up "$tmp" nodaemon
	DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-such-bus" ip netns exec "$AVAHI_NS_HOST" \
		timeout 30 "$sonota" --scan >"$tmp/client.out" 2>"$tmp/scan.err" || got=$?
	cat "$tmp/client.out" "$tmp/scan.err"
	[ "$got" = 1 ] || { echo "FAIL: exit $got, want 1"; rc=1; }
	grep -q "^sonota-c: no system D-Bus (.*): cannot ask Avahi for the devices on this LAN; name the device with --device-ip IP$" "$tmp/scan.err" ||
		{ echo "FAIL: no clear message"; rc=1; }
	;;
scan-ip|scan-ip-33)
	# one device by address: no Avahi at all, its info read directly
	avahi_env_up "$tmp" nodaemon
	if [ "$case" = scan-ip ]; then
		id=1000aaaa36
		diy 2 r3-3.6 $id
		want="1000aaaa36  $AVAHI_SUBNET.52  -  fw 3.6.0  otaUnlock false  diy  route diy"
	else
		id=1000aaaa33
		diy 2 r3-3.3 $id # 3.3's info carries no deviceid
		want="?  $AVAHI_SUBNET.52  -  fw 3.3-3.4  otaUnlock false  diy  route diy"
	fi
	_avahi_wait 10 grep -q "listening on" "$tmp/dev-$id.log" || { echo "FAIL: diysim not up"; exit 1; }
	# scan-ip runs the real binary (`--scan --device-ip`), scan-ip-33 the function it calls
	if [ "$case" = scan-ip ]; then
		cmd=("$sonota" --scan --device-ip "$AVAHI_SUBNET.52")
	else
		cmd=("$scan_ip" "$AVAHI_SUBNET.52")
	fi
	ip netns exec "$AVAHI_NS_HOST" timeout 30 "${cmd[@]}" >"$tmp/client.out" \
		2>"$tmp/scan.err" || got=$?
	cat "$tmp/client.out" "$tmp/scan.err"
	[ "$got" = 0 ] || { echo "FAIL: exit $got, want 0"; rc=1; }
	[ "$(cat "$tmp/client.out")" = "$want" ] || { echo "FAIL: want: $want"; rc=1; }
	;;
scan-ip-silent|scan-ip-subnet)
	avahi_env_up "$tmp" nodaemon
	if [ "$case" = scan-ip-silent ]; then
		ip=$(avahi_dev_addr 9) # on the LAN, nothing listens on 8081
		want="sonota-c: no Sonoff found at that address: nothing answers on port 8081 at that address: the device is not in DIY mode, or is off the network"
	else
		ip=10.99.0.9 # no route: another subnet
		want="sonota-c: no Sonoff found at that address: the device's address is on another subnet: mDNS does not cross routers; run from the device's network, or give this computer a route to it"
	fi
	ip netns exec "$AVAHI_NS_HOST" timeout 30 "$scan_ip" "$ip" >"$tmp/client.out" \
		2>"$tmp/scan.err" || got=$?
	cat "$tmp/client.out" "$tmp/scan.err"
	[ "$got" = 1 ] || { echo "FAIL: exit $got, want 1"; rc=1; }
	[ ! -s "$tmp/client.out" ] || { echo "FAIL: a listing without a device"; rc=1; }
	grep -qxF "$want" "$tmp/scan.err" || { echo "FAIL: want: $want"; rc=1; }
	;;
*)
	echo "unknown case $case"
	exit 2
	;;
esac
exit "$rc"
