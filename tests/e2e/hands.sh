#!/bin/bash
# hands.sh SCENARIO: hands-free takeovers (issue 10): the real sonota-c in its default --wifi
# mode drives NetworkManager (the mock, tests/nm/nmmock.py, on a private system bus) and the
# mock's activations move the laptop namespace's addresses; nobody hops by hand. Plumbing in
# tests/e2e/lib.sh + hands-lib.sh; topology and scenarios in docs/testing.md ("Hands-free").
#
# Exit: 0 pass, 1 fail (with the tails of every log), 77 skipped (not root, a binary or
# python3-dbusmock missing). Environment as tests/e2e/e2e.sh (meson passes it).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=hands-lib.sh
. "$HERE/hands-lib.sh"

SCENARIOS="plumbing user1 user2 4ch final-drop50 two wrong-psk ap-vanish no-finalstage nm-restart sigint sigint-autoconnect kill9 supplicant-retry no-lease decoy iface"

SCENARIO="${1:-}"
case " $SCENARIOS " in
*" $SCENARIO "*) ;;
*) echo "usage: $0 SCENARIO   (one of: $SCENARIOS)" >&2; exit 2 ;;
esac

for v in SONOTA_BIN DEVSIM_BIN MKIMAGE_BIN; do
	if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
		echo "e2e: SKIP: $v is not set to an executable ('${!v:-}'); run through" \
			"'meson test --suite e2e'" >&2
		exit 77
	fi
done
DEVSIM_MODELS="${DEVSIM_MODELS:-$HERE/../devsim/models}"
e2e_require_root
e2e_nm_require

# Time bounds (s): devsim's --timeout < its process bound < sonota-c's < the test's (meson).
DEVSIM_TIMEOUT=45
DEVSIM_BOUND=50
SONOTA_BOUND=55
BLINK_MS=300			# E2A's 10 s LED phase, shortened
HOP_MAX_MS=50			# a hop is requested within this of its transition (issue 10)

HOME_IP=${E2E_HOME_SRV%/*}
IMG=""
ID1=10000e2e01
ID2=10000e2e02

e2e_init "hands-$SCENARIO"
e2e_netns_setup

# ---- helpers ----------------------------------------------------------------------------------

images()
{
	IMG="$E2E_WORK/img"
	"$MKIMAGE_BIN" set "$IMG" >"$E2E_LOGS/mkimage.txt" 2>&1 ||
		e2e_fail "mkimage set failed: $(tail -n 3 "$E2E_LOGS/mkimage.txt")"
}

model()
{
	local m
	for m in "$DEVSIM_MODELS/$1.model" "$HERE/models/$1.model"; do
		[ -r "$m" ] && { echo "$m"; return 0; }
	done
	e2e_fail "no devsim model '$1'"
}

# sonota_start NAME ARGS...: sonota-c in SRV in its default --wifi mode (auto), with the
# private bus in its environment; waits for its listeners. Debug log: NAME.debug.
PW="e2e-secret-$RANDOM$RANDOM"
sonota_start()
{
	local name="$1"
	shift
	local tls=() prov=(--wifi-ssid "$E2E_NM_HOME_SSID")
	[ -n "${E2E_CERT:-}" ] && tls=(--cert "$E2E_CERT" --key "$E2E_KEY")
	case " $* " in *" --no-prov "*) prov=() ;; esac
	e2e_start "$name" "$NS_SRV" "$SONOTA_BOUND" -- env SONOTA_WIFI_PASSWORD="$PW" \
		DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$SONOTA_BIN" \
		--images "$IMG" --log-file "$E2E_LOGS/$name.debug" -v --done-timeout 3 "${tls[@]}" \
		--serving-host "$HOME_IP" "${prov[@]}" "$@"
	local i
	for ((i = 0; i < 150; i++)); do
		grep -q '^listening:' "$E2E_LOGS/$name.log" 2>/dev/null && return 0
		e2e_running "$name" || break
		sleep 0.1
	done
	e2e_running "$name" && e2e_fail "$name did not print its 'listening:' line within 15 s"
	e2e_wait "$name"
	e2e_fail "$name exited ($E2E_RC) before listening"
}

# devsim_start NAME MODEL ARGS...
devsim_start()
{
	local name="$1" m
	m=$(model "$2") || exit 1
	shift 2
	e2e_start "$name" "$NS_DEV" "$DEVSIM_BOUND" -- "$DEVSIM_BIN" --model "$m" \
		--hook "$E2E_HOOK" --blink-ms "$BLINK_MS" --timeout "$DEVSIM_TIMEOUT" "$@"
}

expect_result()
{
	local name="$1" want="$2" last
	last=$(tail -n 1 "$E2E_LOGS/$name.log")
	case "$last" in
	"devsim: RESULT $want"*) e2e_log "ok: $name: $last" ;;
	*) e2e_fail "$name: wanted 'devsim: RESULT $want...', got '${last:-no RESULT line}'" ;;
	esac
}

# The child of the timeout wrapper: sonota-c itself (signals go to it, as a terminal's would).
sonota_pid()
{
	local p
	p=$(pgrep -P "${E2E_PID[$1]}" | head -n 1)
	[ -n "$p" ] || e2e_fail "no sonota-c under the timeout wrapper of $1"
	echo "$p"
}

# wait_log NAME REGEX SECS
wait_log()
{
	e2e_wait_log "$E2E_LOGS/$1.log" "$2" "$3" || e2e_fail "$1 never said /$2/ within $3 s"
	e2e_log "ok: $1: /$2/"
}

# The address moves the mock's activations made, as "up|down SSID" words.
expect_addr_moves()
{
	local want="$1" got
	got=$(awk '{print $2, $3}' "$E2E_LOGS/nm-hook.log" | tr '\n' ',' | sed 's/,$//')
	[ "$got" = "$want" ] || e2e_fail "address moves '$got', wanted '$want'"
	grep -q ' FAIL$' "$E2E_LOGS/nm-hook.log" && e2e_fail "an address move failed (nm-hook.log)"
	e2e_log "ok: the mock's activations moved SRV's addresses: $got"
}

# No manual hop: devsim's hook never touched SRV (it only told the mock).
expect_no_manual_hop()
{
	grep -q ' FAIL$' "$E2E_LOGS/hook.log" && e2e_fail "a hook event failed (hook.log)"
	[ ! -e "$E2E_WORK/nm/manual" ] || e2e_fail "the run was switched to manual hops"
	e2e_log "ok: devsim's hook played no SRV hop ($(awk '{print $2}' "$E2E_LOGS/hook.log" | tr '\n' ' '))"
}

# One whole hands-free takeover from the device's pairing AP.
# takeover N ID MODEL N_FINAL: sonota-c "sonota-N", devsim "devsim-N".
takeover()
{
	takeover_start "$1" "$2" "$3"
	takeover_check "$@"
}

takeover_start()
{
	local id="$2" m="$3" s="sonota-$1" d="devsim-$1"
	sonota_start "$s"
	# the pre-flight's NM lines come after the listeners
	wait_log "$s" '^WiFi hops' 15
	e2e_expect_log "$s" '^WiFi: NetworkManager 1\.42\.4'
	e2e_expect_log "$s" "^WiFi hops: auto, through NetworkManager on $E2E_IF\$"
	devsim_start "$d" "$m" --deviceid "$id" --start ap --ssid-check "$E2E_NM_HOME_SSID" \
		--expect-final "$IMG/image_arduino.bin"
}

# takeover_check N ID MODEL N_FINAL [ALLOWED]: the run ends by itself and everything a
# hands-free takeover must show holds. ALLOWED: a regex of WiFi failure lines this scenario
# provokes (else none may appear).
takeover_check()
{
	local id="$2" nfinal="$4" allowed="${5:-}" s="sonota-$1" d="devsim-$1"
	e2e_wait "$d"
	local drc=$E2E_RC
	e2e_stop "$s" 15
	local src=$E2E_RC sig=$E2E_SIGNALLED
	e2e_expect_exit "$d" "$drc" 0
	expect_result "$d" ok
	[ "$sig" = 0 ] || e2e_fail "$s did not exit by itself within 15 s of the device's end"
	e2e_expect_exit "$s" "$src" 0
	e2e_expect_log "$d" 'POST /ap'
	e2e_expect_log "$d" 'final flash holds exactly the [0-9]+ bytes of .*image_arduino\.bin at 0x0'
	e2e_expect_log "$s" "^WiFi: joining ITEAD-$id "
	# (the "joined" line may not come: the device is often provisioned, and the driver on
	# its way home, before NM's IP4Config is read; the mock's record below proves the join)
	e2e_expect_log "$s" '^this computer joined the device.s WiFi \(10\.10\.7\.2\)'
	e2e_expect_log "$s" '^stage: wait-ap → ap-up → provisioning$'
	e2e_expect_log "$s" '^WiFi: going home to Home'
	e2e_expect_log "$s" '^stage: wait-home → home-up → (wait-call|serving)$'
	e2e_expect_log "$s" '^WiFi: joining FinalStage '
	e2e_expect_log_count "$s" '^WiFi: joined \(address 192\.168\.4\.2/24\)' "$nfinal"
	e2e_expect_log "$s" '^stage: [a-z-]+ → final-up → finalstage$'
	e2e_expect_log "$s" 'FinalStage: image_arduino.bin delivered in full to 192\.168\.4\.1 '
	e2e_expect_log "$s" '^stage: final-delivered → final-down → done$'
	e2e_expect_log "$s" '^Done: the device runs the new firmware'
	e2e_expect_log "$s" '^WiFi: restoring Home'
	e2e_expect_log "$s" '^WiFi: Home is back'
	if [ -n "$allowed" ]; then
		grep -E 'hop by hand|by hand|could not join' "$E2E_LOGS/$s.log" | grep -Ev -- "$allowed" |
			grep -q . && e2e_fail "$s: an unexpected WiFi failure line: $(grep -E 'hop by hand|by hand|could not join' "$E2E_LOGS/$s.log" | grep -Ev -- "$allowed" | head -n 1)"
	else
		e2e_expect_nolog "$s" 'hop by hand|join the device.s network by hand|could not join'
	fi
	e2e_nm_expect_home
	e2e_nm_expect_clean
	e2e_nm_expect_joins "$id" "$nfinal"
	e2e_nm_expect_hop_latency "$E2E_LOGS/$s.debug" "$HOP_MAX_MS" \
		join-itead home join-finalstage restore
	local f
	for f in "$s.log" "$s.debug"; do
		grep -aqF -- "$PW" "$E2E_LOGS/$f" && e2e_fail "the WiFi password appears in $f"
	done
	expect_no_manual_hop
}

# The moves of one takeover with K FinalStage joins.
moves()
{
	local k="$1" out="up e2e-home,down e2e-home,up ITEAD-$2,down ITEAD-$2,up e2e-home" i
	for ((i = 0; i < k; i++)); do
		out="$out,down e2e-home,up FinalStage,down FinalStage,up e2e-home"
	done
	echo "$out"
}

# ---- scenarios --------------------------------------------------------------------------------

# The plumbing itself, no sonota-c: the mock moves SRV's addresses, devsim's hook events
# become the radio's access points, and the checks the takeovers rely on can fail.
s_plumbing()
{
	e2e_nm_start
	e2e_wait_log "$E2E_LOGS/nm-hook.log" '^[0-9:.]+ up e2e-home 192\.168\.77\.5/24 ok$' 5 ||
		e2e_fail "the mock's Home activation did not give SRV its address"
	e2e_nm_expect_home
	"$E2E_HOOK" ap-up "$ID1" || e2e_fail "hook ap-up failed"
	"$E2E_HOOK" ap-up "$ID2" || e2e_fail "hook ap-up (second device) failed"
	"$E2E_HOOK" finalstage-up "$ID1" || e2e_fail "hook finalstage-up failed"
	"$E2E_HOOK" finalstage-up "$ID2" || e2e_fail "hook finalstage-up (second device) failed"
	# what the radio sees: each device's APs with its own BSSID; SRV untouched
	e2e_nm_py "
import dbus
nm = bus.get_object('org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager')
dev = nm.GetDevices(dbus_interface='org.freedesktop.NetworkManager')[0]
w = bus.get_object('org.freedesktop.NetworkManager', dev)
seen = set()
for p in w.GetAllAccessPoints(dbus_interface='org.freedesktop.NetworkManager.Device.Wireless'):
    a = bus.get_object('org.freedesktop.NetworkManager', p)
    g = lambda k: a.Get('org.freedesktop.NetworkManager.AccessPoint', k, dbus_interface=dbus.PROPERTIES_IFACE)
    seen.add((bytes(g('Ssid')).decode(), str(g('HwAddress')), int(g('RsnFlags')) != 0))
want = {('e2e-home', '02:77:77:00:00:05', True),
        ('ITEAD-$ID1', '$(e2e_dev_bssid $ID1)', True), ('ITEAD-$ID2', '$(e2e_dev_bssid $ID2)', True),
        ('FinalStage', '$(e2e_dev_bssid $ID1)', False), ('FinalStage', '$(e2e_dev_bssid $ID2)', False)}
if seen != want:
    fail('access points %s, wanted %s' % (sorted(seen), sorted(want)))
print('ok: the radio sees', sorted(seen))
" || e2e_fail "the mock's access points are not what devsim's hook announced"
	e2e_nm_expect_home
	e2e_ip "$NS_DEV" -4 -o addr show dev "$E2E_IF" | grep -q ' 10\.10\.7\.1/24 ' ||
		e2e_fail "DEV lacks 10.10.7.1 after ap-up"
	"$E2E_HOOK" finalstage-down "$ID2" || e2e_fail "hook finalstage-down failed"
	# an activation of ITEAD moves SRV to 10.10.7.2 (what sonota-c will ask: AddAndActivate2)
	e2e_nm_py "
import dbus
nm = bus.get_object('org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager')
dev = nm.GetDevices(dbus_interface='org.freedesktop.NetworkManager')[0]
D = lambda d: dbus.Dictionary(d, signature='sv')
s = dbus.Dictionary({'connection': D({'id': 'sonota-ITEAD-$ID1', 'type': '802-11-wireless'}),
     '802-11-wireless': D({'ssid': dbus.Array(b'ITEAD-$ID1', signature='y')}),
     '802-11-wireless-security': D({'key-mgmt': 'wpa-psk', 'psk': '12345678'})}, signature='sa{sv}')
nm.AddAndActivateConnection2(s, dbus.ObjectPath(dev), dbus.ObjectPath('/'),
                             D({'persist': 'volatile', 'bind-activation': 'none'}),
                             dbus_interface='org.freedesktop.NetworkManager')
deadline = time.time() + 5
while dump()['devices']['$E2E_IF']['state'] != 2 and time.time() < deadline:
    time.sleep(0.05)
" || e2e_fail "activating ITEAD-$ID1 in the mock failed"
	e2e_wait_log "$E2E_LOGS/nm-hook.log" "up ITEAD-$ID1 10\\.10\\.7\\.2/24 ok\$" 5 ||
		e2e_fail "the activation did not move SRV"
	local addrs
	addrs=$(e2e_ip "$NS_SRV" -4 -o addr show dev "$E2E_IF" | awk '{print $4}' | tr '\n' ' ')
	[ "$addrs" = "10.10.7.2/24 " ] || e2e_fail "SRV has '$addrs' on ITEAD, wanted 10.10.7.2/24 only"
	# the device's AP goes: the mock drops the activation and autoconnects home
	"$E2E_HOOK" ap-down "$ID1" || e2e_fail "hook ap-down failed"
	e2e_wait_log "$E2E_LOGS/nm-hook.log" 'up e2e-home 192\.168\.77\.5/24 ok$' 5
	sleep 1
	e2e_nm_expect_home
	expect_addr_moves "up e2e-home,down e2e-home,up ITEAD-$ID1,down ITEAD-$ID1,up e2e-home"
	e2e_nm_expect_clean
	# negative controls: each check must be able to fail
	if (e2e_nm_expect_joins "$ID1" 1) 2>/dev/null; then
		e2e_fail "negative control: e2e_nm_expect_joins passed without any FinalStage join"
	fi
	dbus-send --system --print-reply --dest=org.freedesktop.NetworkManager \
		/org/freedesktop/NetworkManager/Devices/1 org.freedesktop.DBus.Properties.Set \
		string:org.freedesktop.NetworkManager.Device string:Autoconnect variant:boolean:true \
		>/dev/null || e2e_fail "could not write Device.Autoconnect"
	if (e2e_nm_expect_clean) 2>/dev/null; then
		e2e_fail "negative control: a Device.Autoconnect write went unnoticed"
	fi
	e2e_log "ok: negative control: the Device.Autoconnect write was recorded"
	local t="$E2E_WORK/lat.debug"
	printf '%s\n' '2026-01-01 10:00:00.000 NOTICE: stage: preflight → start → wait-ap' \
		'2026-01-01 10:00:00.010 DEBUG: WiFi: hop join-itead requested for stage: preflight → start → wait-ap' \
		'2026-01-01 10:00:01.000 NOTICE: stage: provisioning → prov-ok → wait-home' \
		'2026-01-01 10:00:01.061 DEBUG: WiFi: hop home requested for stage: provisioning → prov-ok → wait-home' >"$t"
	if (e2e_nm_expect_hop_latency "$t" "$HOP_MAX_MS") 2>/dev/null; then
		e2e_fail "negative control: a hop 61 ms after its transition passed"
	fi
	sed -i '$d' "$t"
	if (e2e_nm_expect_hop_latency "$t" "$HOP_MAX_MS") 2>/dev/null; then
		e2e_fail "negative control: a transition without its hop passed"
	fi
	printf '%s\n' '2026-01-01 10:00:01.050 DEBUG: WiFi: hop home requested for stage: provisioning → prov-ok → wait-home' >>"$t"
	(e2e_nm_expect_hop_latency "$t" "$HOP_MAX_MS" join-itead home) ||
		e2e_fail "a hop 50 ms after its transition failed the check"
	e2e_log "ok: negative controls of the hop timing check"
}

s_user1() { images; e2e_nm_start; takeover 1 "$ID1" basic-user1 1; expect_addr_moves "$(moves 1 "$ID1")"; }
s_user2() { images; e2e_nm_start; takeover 1 "$ID1" basic-user2 2; expect_addr_moves "$(moves 2 "$ID1")"; }
s_4ch()
{
	images
	e2e_nm_start
	takeover 1 "$ID1" dout-4ch 2
	expect_addr_moves "$(moves 2 "$ID1")"
	e2e_expect_log devsim-1 'AP: POST /ap: head and body arrived in 1 read$'
}

# FinalStage drops halfway through image_arduino.bin; E2A restarts and opens it again: the
# driver joins it again and the image is delivered whole the second time.
s_final-drop50()
{
	images
	e2e_nm_start
	takeover 1 "$ID1" final-drop50 2
	expect_addr_moves "$(moves 2 "$ID1")"
	e2e_expect_log sonota-1 'FinalStage went away before image_arduino\.bin was delivered'
	e2e_expect_log_count sonota-1 '^WiFi: FinalStage went away; joining it again when it comes back$' 1
}

# Two devices in a row: two runs of sonota-c, one device each, on the same NetworkManager.
s_two()
{
	images
	e2e_nm_start
	takeover 1 "$ID1" basic-user1 1
	takeover 2 "$ID2" basic-user2 2
	expect_addr_moves "$(moves 1 "$ID1"),$(moves 2 "$ID2" | sed 's/^up e2e-home,//')"
}

# ---- fault cases against the real binary ------------------------------------------------------

# sonota-c ends by itself (not by the test's SIGTERM) with exit status WANT within SECS.
# expect_end NAME SECS WANT
expect_end()
{
	e2e_stop "$1" "$2"
	local rc=$E2E_RC
	[ "$E2E_SIGNALLED" = 0 ] || e2e_fail "$1 did not end by itself within $2 s (status $rc)"
	e2e_expect_exit "$1" "$rc" "$3"
}

# The ITEAD AP refuses the PSK (not a Sonoff in pairing mode, or its PSK changed): one line
# with NM's diagnosis, no retry (a wrong PSK does not get better); the run ends at once
# (wait-ap → join-failed → failed, long before --wait-timeout) with that reason, exit 1;
# Home back.
s_wrong-psk()
{
	images
	e2e_nm_start
	e2e_nm_itead_extra "$ID1" '"psk": "not-the-itead-one"'
	# a limit far beyond the test's bound: the run must end on NM's reason, not on it
	sonota_start sonota-1 --wait-timeout 600
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ap-timeout 30
	wait_log sonota-1 '^(warning: )?WiFi: NetworkManager could not join: ' 15
	expect_end sonota-1 15 1
	e2e_stop devsim-1 0
	e2e_expect_log_count sonota-1 '^(warning: )?WiFi: NetworkManager could not join: the network refused the password \(wrong PSK, or not a Sonoff in pairing mode\)' 1
	e2e_expect_log_count sonota-1 '^WiFi: joining ITEAD-' 1
	e2e_expect_log sonota-1 '^stage: wait-ap → join-failed → failed$'
	e2e_expect_log sonota-1 "^  why the run ended: NetworkManager could not join the device's WiFi ITEAD-$ID1: the network refused the password \\(wrong PSK, or not a Sonoff in pairing mode\\)\\. .*--wifi manual"
	e2e_expect_nolog sonota-1 "join the device's network by hand"
	e2e_expect_log sonota-1 '^WiFi: Home is back'
	e2e_nm_expect_home
	e2e_nm_expect_clean
	e2e_nm_expect_hop_latency "$E2E_LOGS/sonota-1.debug" "$HOP_MAX_MS" join-itead restore
}

# The pairing AP vanishes while NM associates (reason 53): the diagnosis says to press the
# button again; NM brings Home back; once the AP is back (the user pressed the button),
# sonota-c joins it by itself and the takeover goes on to the end.
s_ap-vanish()
{
	images
	e2e_nm_start
	e2e_nm_itead_extra "$ID1" '"vanish": true'
	takeover_start 1 "$ID1" basic-user1
	wait_log sonota-1 '^(warning: )?WiFi: NetworkManager could not join: the WiFi network is gone \(the device left pairing mode or rebooted\): press its button again' 15
	# NM's autoconnect brings Home back (its second activation in this run)
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c ' up e2e-home .* ok$' "$E2E_LOGS/nm-hook.log")" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(grep -c ' up e2e-home .* ok$' "$E2E_LOGS/nm-hook.log")" -ge 2 ] ||
		e2e_fail "Home did not come back after the failed join"
	# the user presses the button: ITEAD-<id> is in range again
	e2e_nm_call AddAP string: "string:{\"ssid\": \"ITEAD-$ID1\", \"psk\": \"12345678\", \"dhcp\": \"$E2E_AP_SRV\", \"bssid\": \"$(e2e_dev_bssid "$ID1")\", \"strength\": 60}" >/dev/null ||
		e2e_fail "could not put ITEAD-$ID1 back"
	takeover_check 1 "$ID1" basic-user1 1 'could not join: the WiFi network is gone'
	e2e_expect_log_count sonota-1 'could not join' 1
	e2e_expect_log_count sonota-1 '^WiFi: joining ITEAD-' 2
	# before the AP came back, the laptop was home again (NM's autoconnect after the failure)
	expect_addr_moves "up e2e-home,down e2e-home,up e2e-home,down e2e-home,up ITEAD-$ID1,down ITEAD-$ID1,up e2e-home,down e2e-home,up FinalStage,down FinalStage,up e2e-home"
}

# FinalStage never appears in the radio's scans: one line saying so, the run fails at
# --wait-timeout with the FinalStage diagnosis, exit 1, and the laptop is home.
s_no-finalstage()
{
	images
	e2e_nm_start
	e2e_nm_hide_finalstage
	sonota_start sonota-1 --no-prov --wait-timeout 8
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start sta --server "$HOME_IP:8443"
	wait_log sonota-1 '^stage: serving → stock-done → finalstage$' 20
	expect_end sonota-1 15 1
	e2e_stop devsim-1 0
	e2e_expect_log_count sonota-1 '^WiFi: no FinalStage network in range yet; scanning again every 3 s$' 1
	e2e_expect_log sonota-1 '^stage: finalstage → timeout → failed$'
	e2e_expect_log sonota-1 '^  why the run ended: image_arduino.bin was not delivered on FinalStage within 8 s'
	e2e_expect_nolog sonota-1 '^WiFi: joining FinalStage'
	e2e_expect_log sonota-1 '^WiFi: Home is back'
	e2e_nm_py "
d = dump()
if d['scans'] < 2:
    fail('only %d scans in 8 s' % d['scans'])
print('%d scans' % d['scans'])" || e2e_fail "sonota-c did not keep scanning for FinalStage"
	e2e_nm_expect_home
	e2e_nm_expect_clean
	e2e_nm_expect_hop_latency "$E2E_LOGS/sonota-1.debug" "$HOP_MAX_MS" home join-finalstage restore
}

# NetworkManager restarts mid-run (after the way home): sonota-c says that the hops are by
# hand until it is back, looks at the new NM once it owns its name, and goes on hands-free:
# it joins FinalStage through the new NM by itself, the takeover ends with exit 0, and the
# new NM has Home active at the end with no profile of ours.
s_nm-restart()
{
	images
	e2e_nm_start
	takeover_start 1 "$ID1" basic-user1
	wait_log sonota-1 '^stage: wait-home → home-up → (wait-call|serving)$' 25
	e2e_nm_stop_mock
	wait_log sonota-1 'NetworkManager stopped: manual WiFi hops until it is back' 5
	e2e_nm_start_mock
	wait_log sonota-1 '^WiFi hops: auto again, through NetworkManager on '"$E2E_IF"'$' 15
	e2e_wait devsim-1
	local drc=$E2E_RC
	expect_end sonota-1 20 0
	e2e_expect_exit devsim-1 "$drc" 0
	expect_result devsim-1 ok
	e2e_expect_log_count sonota-1 'manual WiFi hops until it is back' 1
	e2e_expect_log_count sonota-1 '^WiFi: NetworkManager is back: looking at it again$' 1
	e2e_expect_log sonota-1 '^WiFi: joining FinalStage '
	e2e_expect_log sonota-1 '^Done: the device runs the new firmware'
	e2e_nm_py "
d = dump()
fs = [a for a in d['activated'] if a['ssid'] == 'FinalStage']
if len(fs) != 1 or fs[0]['bssid'] != '$(e2e_dev_bssid "$ID1")' or not fs[0]['volatile']:
    fail('the new NM did not join FinalStage once by its BSSID: %s' % d['activated'])
print('the new NM joined FinalStage:', fs)" || e2e_fail "sonota-c did not hop through the restarted NM"
	e2e_nm_expect_home
	e2e_nm_expect_clean
}

# Ctrl-C while NM associates with ITEAD-<id> (a slow association): the restore runs before
# exit, 130, Home back, no profile of ours left.
s_sigint()
{
	images
	e2e_nm_start delay_ms=2500
	sonota_start sonota-1
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ap-timeout 30
	wait_log sonota-1 '^WiFi: joining ITEAD-' 15
	sleep 0.5
	e2e_nm_py "
d = dump()['devices']['$E2E_IF']
if not (d['active'] or '').startswith('sonota-') or d['state'] != 1:
    fail('not mid-association: %s' % d)" || e2e_fail "the signal would not land mid-hop"
	kill -INT "$(sonota_pid sonota-1)"
	expect_end sonota-1 15 130
	e2e_stop devsim-1 0
	e2e_expect_log sonota-1 '^stage: wait-ap → interrupt → failed$'
	e2e_expect_log sonota-1 '^WiFi: restoring Home'
	e2e_expect_log sonota-1 '^WiFi: Home is back'
	e2e_nm_expect_home
	e2e_nm_expect_clean
	e2e_nm_expect_hop_latency "$E2E_LOGS/sonota-1.debug" "$HOP_MAX_MS" join-itead restore
}

# kill -9 while on the device's AP: NM drops the client-bound volatile profile by itself and
# autoconnects Home; nothing of ours is left.
s_kill9()
{
	images
	e2e_nm_start
	sonota_start sonota-1
	# no HTTP server on port 80: provisioning cannot succeed, the laptop stays on ITEAD
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ap-port 81 --ap-timeout 30
	wait_log sonota-1 "^this computer joined the device.s WiFi \\(10\\.10\\.7\\.2\\)" 15
	e2e_ip "$NS_SRV" -4 -o addr show dev "$E2E_IF" | grep -q ' 10\.10\.7\.2/24 ' ||
		e2e_fail "SRV is not on ITEAD before the kill"
	kill -KILL "$(sonota_pid sonota-1)"
	e2e_stop sonota-1 5
	e2e_expect_exit sonota-1 "$E2E_RC" 137
	local i
	for ((i = 0; i < 50; i++)); do
		e2e_nm_py "
if dump()['devices']['$E2E_IF']['state'] != 2: fail('')" >/dev/null 2>&1 && break
		sleep 0.1
	done
	e2e_stop devsim-1 0
	grep -q 'left the bus: dropping' "$E2E_LOGS/nm-calls.log" ||
		e2e_fail "the mock did not drop the client-bound activation"
	e2e_expect_nolog sonota-1 '^WiFi: restoring'
	e2e_nm_expect_home
	e2e_nm_expect_clean
	expect_addr_moves "up e2e-home,down e2e-home,up ITEAD-$ID1,down ITEAD-$ID1,up e2e-home"
}

# Ctrl-C while NM's own autoconnect is bringing Home back (after a failed join, a slow
# association): the restore waits for that activation instead of restarting it with an
# ActivateConnection of its own (which would cut it short: NEW_ACTIVATION).
s_sigint-autoconnect()
{
	images
	e2e_nm_start delay_ms=2500 autoconnect_delay_ms=0
	# a join that fails once (supplicant timeout): the driver rescans 3 s later, and
	# meanwhile NM's own autoconnect brings Home back (a wrong PSK would end the run)
	e2e_nm_itead_extra "$ID1" '"fail_first": [11, 6]'
	sonota_start sonota-1
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ap-timeout 30
	wait_log sonota-1 '^(warning: )?WiFi: NetworkManager could not join: ' 20
	e2e_nm_py "
d = dump()['devices']['$E2E_IF']
if d['active'] != 'Home' or d['state'] != 1:
    fail('Home is not being autoconnected: %s' % d)" || e2e_fail "the signal would not land during NM's autoconnect"
	kill -INT "$(sonota_pid sonota-1)"
	expect_end sonota-1 15 130
	e2e_stop devsim-1 0
	e2e_expect_log sonota-1 '^WiFi: Home is back'
	e2e_nm_py "
c = [x for x in dump()['calls'] if x.startswith('ActivateConnection')]
if c:
    fail('sonota-c restarted the activation NM was making: %s' % c)" ||
		e2e_fail "the restore fought NM's autoconnect"
	e2e_log "ok: the restore waited for NM's own activation of Home"
	e2e_nm_expect_home
	e2e_nm_expect_clean
	expect_addr_moves "up e2e-home,down e2e-home,up e2e-home"
}

# The association times out once (NM reason 11, supplicant): the diagnosis says to move
# closer, the driver retries by itself and the takeover completes.
s_supplicant-retry()
{
	images
	e2e_nm_start
	e2e_nm_itead_extra "$ID1" '"fail_first": [11, 6]'
	takeover_start 1 "$ID1" basic-user1
	takeover_check 1 "$ID1" basic-user1 1 'could not join: the WiFi association timed out'
	e2e_expect_log_count sonota-1 '^(warning: )?WiFi: NetworkManager could not join: the WiFi association timed out \(weak signal\?\): move closer to the device$' 1
	e2e_expect_log_count sonota-1 '^WiFi: joining ITEAD-' 2
}

# The device's AP gives no DHCP lease (NM reason 17): the diagnosis, two retries, then the
# hops are left to the user; Home is back, the run ends at --wait-timeout (exit 1).
s_no-lease()
{
	images
	e2e_nm_start
	e2e_nm_itead_extra "$ID1" '"dhcp": null'
	sonota_start sonota-1 --wait-timeout 16
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ap-timeout 40
	expect_end sonota-1 25 1
	e2e_stop devsim-1 0
	e2e_expect_log_count sonota-1 '^(warning: )?WiFi: NetworkManager could not join: joined the network but got no DHCP lease from the access point$' 3
	e2e_expect_log_count sonota-1 '^WiFi: joining ITEAD-' 3
	e2e_expect_log_count sonota-1 "^(warning: )?WiFi: join the device's network by hand" 1
	e2e_expect_log sonota-1 '^stage: wait-ap → timeout → failed$'
	e2e_expect_log sonota-1 '^WiFi: Home is back'
	e2e_nm_expect_home
	e2e_nm_expect_clean
}

# Another device's FinalStage (a stronger signal, another BSSID) is in range the whole run:
# sonota-c joins only the FinalStage whose BSSID is that of the ITEAD-<id> it provisioned.
s_decoy()
{
	images
	e2e_nm_start
	e2e_nm_call AddAP string: "string:{\"ssid\": \"FinalStage\", \"sec\": \"open\", \"dhcp\": \"$E2E_FS_SRV\", \"bssid\": \"D8:F1:5B:DE:C0:01\", \"strength\": 95}" >/dev/null ||
		e2e_fail "could not add the other device's FinalStage"
	takeover 1 "$ID1" basic-user1 1
	e2e_expect_log sonota-1 '^WiFi: a FinalStage of another device is in range \(BSSID D8:F1:5B:DE:C0:01\)'
	e2e_nm_py "
a = [x for x in dump()['activated'] if x['bssid'] == 'D8:F1:5B:DE:C0:01']
if a:
    fail('joined the other device\'s FinalStage: %s' % a)" || e2e_fail "sonota-c joined the wrong FinalStage"
	expect_addr_moves "$(moves 1 "$ID1")"
}

# Two interfaces (issue 10 item 5): the home link is wired (SRV's e2e0, the serving address,
# a device the mock never activates) and `--wifi-iface wlan1` names the radio to hop (idle,
# no saved WiFi network). The takeover needs no home hop at all: ITEAD-<id> and FinalStage
# are joined on wlan1, the serving address stays up the whole run (ip monitor), the mock
# records no activation on e2e0, and wlan1 ends idle with no profile of ours.
s_iface()
{
	images
	e2e_nm_start wifi_iface=wlan1
	e2e_start ipmon "$NS_SRV" "$SONOTA_BOUND" -- ip monitor address
	sonota_start sonota-1 --wifi-iface wlan1
	wait_log sonota-1 '^WiFi hops' 15
	e2e_expect_log sonota-1 '^WiFi hops: auto, through NetworkManager on wlan1$'
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap --ssid-check "$E2E_NM_HOME_SSID" \
		--expect-final "$IMG/image_arduino.bin"
	e2e_wait devsim-1
	local drc=$E2E_RC
	expect_end sonota-1 15 0
	e2e_expect_exit devsim-1 "$drc" 0
	expect_result devsim-1 ok
	e2e_expect_log devsim-1 'final flash holds exactly the [0-9]+ bytes of .*image_arduino\.bin at 0x0'
	e2e_expect_log sonota-1 "^WiFi: joining ITEAD-$ID1 "
	e2e_expect_log sonota-1 '^stage: wait-ap → ap-up → provisioning$'
	e2e_expect_log sonota-1 '^stage: [a-z-]+ → final-up → finalstage$'
	e2e_expect_log sonota-1 '^Done: the device runs the new firmware'
	e2e_expect_nolog sonota-1 '^WiFi: going home'
	e2e_expect_nolog sonota-1 'hop by hand|could not join'
	e2e_stop ipmon 0
	grep -E '^Deleted .* 192\.168\.77\.5/' "$E2E_LOGS/ipmon.log" &&
		e2e_fail "the serving address went down during the run (ipmon.log)"
	e2e_ip "$NS_SRV" -4 -o addr show dev "$E2E_IF" | grep -q " $E2E_HOME_SRV " ||
		e2e_fail "SRV's $E2E_IF lost the serving address $E2E_HOME_SRV"
	[ -z "$(e2e_ip "$NS_SRV" -4 -o addr show dev wlan1)" ] ||
		e2e_fail "wlan1 still has an address: $(e2e_ip "$NS_SRV" -4 -o addr show dev wlan1)"
	e2e_nm_py "
d = dump()
if d['devices']['$E2E_IF']['active'] is not None:
    fail('the mock activated something on the home link: %s' % d['devices'])
if d['devices']['wlan1']['active'] is not None:
    fail('wlan1 is not idle at the end: %s' % d['devices']['wlan1'])
acts = [(x['id'], x['ssid']) for x in d['activated']]
if acts != [('sonota-ITEAD-$ID1', 'ITEAD-$ID1'), ('sonota-FinalStage', 'FinalStage')]:
    fail('activations %s, wanted only ITEAD-$ID1 then FinalStage on wlan1' % acts)
c = [x for x in d['calls'] if x.startswith('ActivateConnection') or x == 'Device.Disconnect']
if c:
    fail('a home activation or a disconnect: %s' % c)
print('activations:', acts, '; calls:', d['calls'])" >"$E2E_WORK/nm/py.out" 2>&1 ||
		e2e_fail "$(cat "$E2E_WORK/nm/py.out")"
	e2e_log "ok: $(cat "$E2E_WORK/nm/py.out")"
	expect_addr_moves "up ITEAD-$ID1,down ITEAD-$ID1,up FinalStage,down FinalStage"
	e2e_nm_expect_joins "$ID1" 1
	e2e_nm_expect_clean
	e2e_expect_log sonota-1 '^WiFi: no hop home: the serving address is on e2e0, not on wlan1$'
	E2E_NM_HOME_ELSEWHERE=1 e2e_nm_expect_hop_latency "$E2E_LOGS/sonota-1.debug" "$HOP_MAX_MS" \
		join-itead join-finalstage restore
}

"s_$SCENARIO"
e2e_netns_cleanup
e2e_root_clean --final || e2e_fail "the root namespace is not clean after the run"
e2e_pass "$SCENARIO"
