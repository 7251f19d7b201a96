#!/bin/bash
# drawer.sh SCENARIO: --all (drawer mode, issue 10 item 4): one hands-free sonota-c run takes
# over two devices one after another, through the NM mock on a private system bus (plumbing
# in tests/e2e/lib.sh + hands-lib.sh, as tests/e2e/hands.sh; docs/testing.md "Hands-free").
# The second device's button is "pressed" (devsim started) once the run looks for it.
#
# Exit: 0 pass, 1 fail (with the tails of every log), 77 skipped (not root, a binary or
# python3-dbusmock missing). Environment as tests/e2e/e2e.sh (meson passes it).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=hands-lib.sh
. "$HERE/hands-lib.sh"

SCENARIOS="two prov-fail no-finalstage batch"

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
SONOTA_BOUND=110
BLINK_MS=300			# E2A's 10 s LED phase, shortened
WAIT_S=12			# --wait-timeout: also next-device's limit (shorter than 120 s)

HOME_IP=${E2E_HOME_SRV%/*}
IMG=""
ID1=10000e2e01
ID2=10000e2e02

e2e_init "drawer-$SCENARIO"
e2e_netns_setup

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

# sonota_start NAME ARGS...: sonota-c --all in SRV (default --wifi: auto through the mock).
PW="e2e-secret-$RANDOM$RANDOM"
sonota_start()
{
	local name="$1"
	shift
	local tls=()
	[ -n "${E2E_CERT:-}" ] && tls=(--cert "$E2E_CERT" --key "$E2E_KEY")
	e2e_start "$name" "$NS_SRV" "$SONOTA_BOUND" -- env SONOTA_WIFI_PASSWORD="$PW" \
		DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$SONOTA_BIN" \
		--images "$IMG" --log-file "$E2E_LOGS/$name.debug" -v --done-timeout 3 "${tls[@]}" \
		--serving-host "$HOME_IP" --wifi-ssid "$E2E_NM_HOME_SSID" \
		--wait-timeout "$WAIT_S" --all "$@"
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

wait_log()
{
	e2e_wait_log "$E2E_LOGS/$1.log" "$2" "$3" || e2e_fail "$1 never said /$2/ within $3 s"
	e2e_log "ok: $1: /$2/"
}

# sonota-c ends by itself with exit status WANT within SECS.
expect_end()
{
	e2e_stop "$1" "$2"
	local rc=$E2E_RC
	[ "$E2E_SIGNALLED" = 0 ] || e2e_fail "$1 did not end by itself within $2 s (status $rc)"
	e2e_expect_exit "$1" "$rc" "$3"
}

device_ok()
{
	local d="$1"
	e2e_wait "$d"
	e2e_expect_exit "$d" "$E2E_RC" 0
	expect_result "$d" ok
	e2e_expect_log "$d" 'final flash holds exactly the [0-9]+ bytes of .*image_arduino\.bin at 0x0'
}

common_end()
{
	local s="$1" f
	e2e_expect_log "$s" '^WiFi: restoring Home'
	e2e_expect_log "$s" '^WiFi: Home is back'
	e2e_nm_expect_home
	e2e_nm_expect_clean
	for f in "$s.log" "$s.debug"; do
		grep -aqF -- "$PW" "$E2E_LOGS/$f" && e2e_fail "the WiFi password appears in $f"
	done
	[ ! -e "$E2E_WORK/nm/manual" ] || e2e_fail "the run was switched to manual hops"
}

# first_line NAME REGEX: the number of the first line of NAME's log matching REGEX (0: none).
first_line()
{
	local n
	n=$(grep -Enm1 -- "$2" "$E2E_LOGS/$1.log" 2>/dev/null | cut -d: -f1)
	echo "${n:-0}"
}

# expect_before NAME REGEX_A REGEX_B: a line matching A comes before any matching B.
expect_before()
{
	local a b
	a=$(first_line "$1" "$2")
	b=$(first_line "$1" "$3")
	[ "$a" -gt 0 ] || e2e_fail "$1.log: no line matches /$2/"
	[ "$b" -gt 0 ] || e2e_fail "$1.log: no line matches /$3/"
	[ "$a" -lt "$b" ] || e2e_fail "$1.log: /$2/ (line $a) does not come before /$3/ (line $b)"
	e2e_log "ok: $1.log: /$2/ (line $a) before /$3/ (line $b)"
}

# Two devices in stage 2 at once (issue 10 item 4): the second device's button is pressed
# while the first one takes its settings; sonota-c provisions both before it goes home
# (look-next), serves both through the emulated cloud together, then takes their FinalStage
# one at a time, each by its own BSSID. Both done, exit 0, Home back. In the one DEV
# namespace both FinalStage APs are up at once; devsim's E2A reaches 192.168.4.2 only while
# the mock's radio is on its own BSSID (final-assoc, hands-lib.sh).
s_batch()
{
	local s=sonota-1 b1 b2
	DEVSIM_TIMEOUT=80 DEVSIM_BOUND=85 SONOTA_BOUND=130	# two devices' stages, in turn
	images
	e2e_nm_start
	sonota_start "$s"
	wait_log "$s" "^WiFi hops: auto, through NetworkManager on $E2E_IF\$" 15
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: provisioning → prov-ok → look-next$' 30
	# the second device's button: its AP comes up once the first one's is gone (both
	# would be 10.10.7.1 in the one DEV namespace)
	e2e_wait_log "$E2E_LOGS/hook.log" " ap-down $ID1 ok" 10 ||
		e2e_fail "devsim-1 did not close its AP within 10 s of its provisioning"
	devsim_start devsim-2 basic-user1 --deviceid "$ID2" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: look-next → ap-up → provisioning$' 15
	wait_log "$s" '^stage: look-next → timeout → wait-home$' 30
	device_ok devsim-1
	device_ok devsim-2
	expect_end "$s" $((WAIT_S + 25)) 0
	b1=$(e2e_dev_bssid "$ID1")
	b2=$(e2e_dev_bssid "$ID2")
	e2e_expect_log "$s" "^WiFi: joining ITEAD-$ID1 "
	e2e_expect_log "$s" "^WiFi: joining ITEAD-$ID2 "
	# both provisioned before either got its upgrade: stage 2 together
	expect_before "$s" "provisioned; 2 devices in stage 2 now" "device $ID1: upgrade sent"
	expect_before "$s" "device $ID2: upgrade sent" 'stock-done → finalstage$'
	expect_before "$s" "device $ID1: upgrade sent" 'stock-done → finalstage$'
	# the first to finish stage 2 waited for the other before FinalStage
	e2e_expect_log_count "$s" '^stage: serving → stock-done → serving$' 1
	e2e_expect_log_count "$s" '^stage: serving → stock-done → finalstage$' 1
	# FinalStage one device at a time, each by its own BSSID
	e2e_expect_log_count "$s" '^stage: [a-z-]+ → final-down → next-device$' 2
	e2e_expect_log "$s" '^stage: next-device → entered → finalstage$'
	e2e_expect_log "$s" '^stage: next-device → timeout → done$'
	e2e_expect_log "$s" "^  device 1 of 2: $ID1 \\(BSSID $b1\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" "^  device 2 of 2: $ID2 \\(BSSID $b2\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" '^  final image: delivered to 2 of 2 devices$'
	e2e_expect_log "$s" '^Done: every device \(2\) runs the new firmware'
	e2e_nm_expect_joins "$ID1" 1
	e2e_nm_expect_joins "$ID2" 1
	e2e_nm_expect_hop_latency "$E2E_LOGS/$s.debug" 50
	common_end "$s"
}

# Two devices, both done: one run, the second device found after the first, each FinalStage
# joined by its own device's BSSID, a summary line per device, exit 0, Home back.
s_two()
{
	local s=sonota-1 b1 b2
	images
	e2e_nm_start
	sonota_start "$s"
	wait_log "$s" "^WiFi hops: auto, through NetworkManager on $E2E_IF\$" 15
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: final-delivered → final-down → next-device$' 45
	device_ok devsim-1
	# the first device's ITEAD-<id> shows up again, stronger than the next one (a device
	# that reappears): a device taken over in this run is skipped, not joined again
	e2e_nm_call AddAP string: "string:{\"ssid\": \"ITEAD-$ID1\", \"psk\": \"12345678\", \"dhcp\": \"$E2E_AP_SRV\", \"bssid\": \"$(e2e_dev_bssid "$ID1")\", \"strength\": 95}" >/dev/null ||
		e2e_fail "could not put ITEAD-$ID1 back"
	wait_log "$s" '^WiFi: 1 ITEAD-<id> network in range belongs to devices taken over in this run already \(done or not\): skipped$' 10
	# the user presses the second device's button
	devsim_start devsim-2 basic-user1 --deviceid "$ID2" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: next-device → ap-up → provisioning$' 20
	device_ok devsim-2
	expect_end "$s" $((WAIT_S + 25)) 0
	b1=$(e2e_dev_bssid "$ID1")
	b2=$(e2e_dev_bssid "$ID2")
	e2e_expect_log "$s" "^WiFi: joining ITEAD-$ID1 "
	e2e_expect_log "$s" "^WiFi: joining ITEAD-$ID2 "
	e2e_expect_log_count "$s" '^stage: [a-z-]+ → final-down → next-device$' 2
	e2e_expect_log "$s" '^stage: next-device → timeout → done$'
	e2e_expect_log "$s" "^  device 1 of 2: $ID1 \\(BSSID $b1\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" "^  device 2 of 2: $ID2 \\(BSSID $b2\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" '^Done: every device \(2\) runs the new firmware'
	# the first device's AP is not joined again while the run looks for the next
	e2e_expect_log_count "$s" "^WiFi: joining ITEAD-$ID1 " 1
	e2e_nm_expect_joins "$ID1" 1
	e2e_nm_expect_joins "$ID2" 1
	common_end "$s"
}

# The second device cannot be provisioned (nothing answers on its port 80): its line says NOT
# done with the reason, the run goes on looking, then ends with exit 1; Home back.
s_prov-fail()
{
	local s=sonota-1 b1 b2
	images
	e2e_nm_start
	sonota_start "$s"
	wait_log "$s" "^WiFi hops: auto, through NetworkManager on $E2E_IF\$" 15
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: final-delivered → final-down → next-device$' 45
	device_ok devsim-1
	devsim_start devsim-2 basic-user1 --deviceid "$ID2" --start ap --ap-port 81 --ap-timeout 40
	wait_log "$s" '^stage: next-device → ap-up → provisioning$' 20
	wait_log "$s" '^stage: provisioning → (prov-failed|timeout) → next-device$' 30
	expect_end "$s" $((WAIT_S + 25)) 1
	e2e_stop devsim-2 0
	b1=$(e2e_dev_bssid "$ID1")
	b2=$(e2e_dev_bssid "$ID2")
	e2e_expect_log "$s" '^stage: next-device → timeout → failed$'
	e2e_expect_log "$s" "^  device 1 of 2: $ID1 \\(BSSID $b1\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" "^  device 2 of 2: $ID2 \\(BSSID $b2\\): NOT done: (Provisioning failed|Provisioning did not finish)"
	e2e_expect_nolog "$s" '^Done: every device'
	e2e_expect_log "$s" '^  why the run ended: No other ITEAD-<id> WiFi within [0-9]+ s; not every device'
	e2e_nm_expect_joins "$ID1" 1
	common_end "$s"
}

# The second device's FinalStage never appears in the radio's scans (out of range): its
# line says NOT done with finalstage's diagnosis, the run then ends with exit 1; Home back,
# no profile left.
s_no-finalstage()
{
	local s=sonota-1 b1 b2
	images
	e2e_nm_start
	sonota_start "$s"
	wait_log "$s" "^WiFi hops: auto, through NetworkManager on $E2E_IF\$" 15
	devsim_start devsim-1 basic-user1 --deviceid "$ID1" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID" --expect-final "$IMG/image_arduino.bin"
	wait_log "$s" '^stage: final-delivered → final-down → next-device$' 45
	device_ok devsim-1
	# from now on the radio sees no FinalStage (the second device's is out of range)
	e2e_nm_hide_finalstage
	devsim_start devsim-2 basic-user1 --deviceid "$ID2" --start ap \
		--ssid-check "$E2E_NM_HOME_SSID"
	wait_log "$s" '^stage: next-device → ap-up → provisioning$' 20
	wait_log "$s" '^stage: serving → stock-done → finalstage$' 40
	wait_log "$s" '^stage: finalstage → timeout → next-device$' $((WAIT_S + 10))
	expect_end "$s" $((WAIT_S + 25)) 1
	e2e_stop devsim-2 0
	b1=$(e2e_dev_bssid "$ID1")
	b2=$(e2e_dev_bssid "$ID2")
	e2e_expect_log "$s" '^stage: next-device → timeout → failed$'
	e2e_expect_log "$s" "^  device 1 of 2: $ID1 \\(BSSID $b1\\): DONE: final firmware delivered\$"
	e2e_expect_log "$s" "^  device 2 of 2: $ID2 \\(BSSID $b2\\): NOT done: image_arduino\\.bin was not delivered on FinalStage within $WAIT_S s"
	e2e_expect_nolog "$s" '^Done: every device'
	e2e_expect_log_count "$s" '^WiFi: joining FinalStage ' 1
	e2e_expect_log "$s" '^  why the run ended: No other ITEAD-<id> WiFi within [0-9]+ s; not every device'
	e2e_nm_expect_joins "$ID1" 1
	common_end "$s"
}

"s_$SCENARIO"
e2e_netns_cleanup
e2e_root_clean --final || e2e_fail "the root namespace is not clean after the run"
e2e_pass "$SCENARIO"
