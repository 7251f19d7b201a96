#!/bin/bash
# e2e.sh SCENARIO: one end-to-end scenario of sonota-c against tests/devsim, inside two
# network namespaces made for this run (tests/e2e/lib.sh; topology in docs/testing.md).
#
# Exit: 0 pass, 1 fail (with the tails of every log), 77 skipped (not root, or a binary is
# missing). Every scenario is bounded well below 60 s and leaves no namespace or process.
#
# Environment (meson passes all of it; see tests/e2e/meson.build):
#   SONOTA_BIN DEVSIM_BIN MKIMAGE_BIN   the binaries
#   DEVSIM_MODELS                       tests/devsim/models; tests/e2e/models is searched too
#   E2E_CERT E2E_KEY                    a throw-away TLS certificate for sonota-c
#   E2E_LOGDIR                          logs go to $E2E_LOGDIR/<scenario>.logs/ (kept)
#   E2E_KEEP=1                          keep the work dir (images, hook script) too
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SCENARIOS="user1 user2 dio legacy oldfw pinned five drop50 corrupt negative-digest \
takeover-user1 takeover-user2 takeover-4ch tls12 resume-e2a final-drop50 ap-timeout \
done-timeout prompts prompt-interrupt stray-final many \
wrong-password post-unanswered sighup max-devices-exact"

usage()
{
	echo "usage: $0 SCENARIO   (one of: $SCENARIOS)" >&2
	exit 2
}

SCENARIO="${1:-}"
[ -n "$SCENARIO" ] || usage
case " $SCENARIOS " in
*" $SCENARIO "*) ;;
*) usage ;;
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

# Time bounds (s): devsim's own --timeout < its process bound < sonota-c's < meson's 60.
DEVSIM_TIMEOUT=40
DEVSIM_BOUND=45
SONOTA_BOUND=50
BLINK_MS=300			# E2A's 10 s LED phase, shortened

HOME_IP=${E2E_HOME_SRV%/*}	# the laptop's home address: --serving-host
IMG=""				# image directory (mkimage set)
ID1=10000e2e01			# deviceids: 10 lower-case hex chars

e2e_init "$SCENARIO"
e2e_netns_setup

# ---- helpers ----------------------------------------------------------------------------------

# images [mkimage set options]: a synthetic image set in $E2E_WORK/img.
images()
{
	IMG="$E2E_WORK/img"
	"$MKIMAGE_BIN" set "$IMG" "$@" >"$E2E_LOGS/mkimage.txt" 2>&1 ||
		e2e_fail "mkimage set $* failed: $(tail -n 3 "$E2E_LOGS/mkimage.txt")"
}

# model NAME: path of a devsim model (tests/devsim/models, then tests/e2e/models).
model()
{
	local m
	for m in "$DEVSIM_MODELS/$1.model" "$HERE/models/$1.model"; do
		[ -r "$m" ] && { echo "$m"; return 0; }
	done
	e2e_fail "no devsim model '$1' in $DEVSIM_MODELS or $HERE/models"
}

# set_sonota_common: the options every run of sonota-c gets (images, debug log, cert).
sonota_common=()
sonota_env=()
set_sonota_common()
{
	# --wifi manual: devsim's hook plays the hops; never the machine's NetworkManager
	sonota_common=(--images "$IMG" --log-file "$E2E_LOGS/sonota.debug" -v --done-timeout 3
		--wifi manual)
	if [ -n "${E2E_CERT:-}" ]; then
		sonota_common+=(--cert "$E2E_CERT" --key "$E2E_KEY")
	fi
}

# sonota_start ARGS...: start sonota-c in SRV (log: sonota.log) and wait for its listeners.
sonota_start()
{
	set_sonota_common
	e2e_start sonota "$NS_SRV" "$SONOTA_BOUND" -- env "${sonota_env[@]}" "$SONOTA_BIN" \
		"${sonota_common[@]}" "$@"
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '^listening:' "$E2E_LOGS/sonota.log" 2>/dev/null && return 0
		e2e_running sonota || break
		sleep 0.1
	done
	if e2e_running sonota; then
		e2e_fail "sonota-c did not print its 'listening:' line within 10 s"
	fi
	e2e_wait sonota
	e2e_fail "sonota-c exited ($E2E_RC) before listening"
}

# sonota_pty_start STEPS... -- ARGS...: start sonota-c on a pseudo-terminal whose prompts
# tests/e2e/pty-answer.py answers (STEPS: --step REGEX=ANSWER ...), as a user at a terminal
# would; sonota.log is what the terminal showed, ending with "pty-answer: exit N, echo on|off".
sonota_pty_start()
{
	local pargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		pargs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	set_sonota_common
	e2e_start sonota "$NS_SRV" "$SONOTA_BOUND" -- env "${sonota_env[@]}" python3 \
		"$HERE/pty-answer.py" "${pargs[@]}" -- "$SONOTA_BIN" "${sonota_common[@]}" "$@"
}

# devsim_start NAME MODEL ARGS...: start one simulated device in DEV (log: NAME.log).
devsim_start()
{
	local name="$1" m
	m=$(model "$2") || exit 1
	shift 2
	e2e_start "$name" "$NS_DEV" "$DEVSIM_BOUND" -- "$DEVSIM_BIN" --model "$m" \
		--hook "$E2E_HOOK" --blink-ms "$BLINK_MS" --timeout "$DEVSIM_TIMEOUT" "$@"
}

# expect_result NAME WANT: the last line of NAME's log is "devsim: RESULT WANT...".
expect_result()
{
	local name="$1" want="$2" last
	last=$(tail -n 1 "$E2E_LOGS/$name.log")
	case "$last" in
	"devsim: RESULT $want"*) e2e_log "ok: $name: $last" ;;
	*) e2e_fail "$name: wanted 'devsim: RESULT $want...', got '${last:-no RESULT line}'" ;;
	esac
}

# A full run from stage 2 (--no-prov) or another start; both must succeed.
# flow_ok MODEL DEVSIM_ARGS... -- SONOTA_ARGS...
flow_ok()
{
	local m="$1"
	shift
	local dargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		dargs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	sonota_start "$@"
	devsim_run_ok "$m" "${dargs[@]}"
}

# devsim_run_ok MODEL DEVSIM_ARGS...: run one simulated device against the sonota-c already
# started, to its end; both must succeed, and sonota-c must exit by itself.
devsim_run_ok()
{
	local m="$1"
	shift
	devsim_start devsim "$m" --expect-final "$IMG/image_arduino.bin" "$@"
	e2e_wait devsim
	local drc=$E2E_RC
	# sonota-c exits by itself once every device is done (--done-timeout after delivery).
	e2e_stop sonota 15
	local src=$E2E_RC sig=$E2E_SIGNALLED
	e2e_expect_exit devsim "$drc" 0
	expect_result devsim ok
	[ "$sig" = 0 ] || e2e_fail "sonota-c did not exit by itself within 15 s of the device's end" \
		"(stopped with SIGTERM, status $src)"
	e2e_expect_exit sonota-c "$src" 0
}

# Lines every successful stage-2 run shows.
expect_stock_ok()
{
	local id="$1"
	e2e_expect_log sonota "device $id \\(.*\\) registered from"
	e2e_expect_log sonota "device $id: upgrade sent"
	e2e_expect_log sonota "device $id downloaded and verified the intermediate image \\(ack 0\\)"
	e2e_expect_log sonota '^stage: serving → stock-done → finalstage$'
	# One device calls dispatch and then registers: one device, never "2 devices seen".
	e2e_expect_log sonota 'Serving the emulated cloud \(1 device seen\)'
	e2e_expect_nolog sonota '\([0-9]+ devices seen\)'
}

# The FinalStage part: N downloads of image_arduino.bin, delivered, done.
expect_final_ok()
{
	e2e_expect_log sonota '^stage: [a-z-]+ → final-up → finalstage$'
	e2e_expect_log sonota 'FinalStage: image_arduino.bin delivered in full to 192\.168\.4\.1 '
	e2e_expect_log sonota '^stage: finalstage → final-delivered → final-delivered$'
	e2e_expect_log sonota '^stage: final-delivered → final-down → done$'
	e2e_expect_log sonota '^Done: the device runs the new firmware'
	e2e_expect_log devsim 'final flash holds exactly the [0-9]+ bytes of .*image_arduino\.bin at 0x0'
}

expect_hooks()
{
	local want="$1" got
	got=$(awk '{print $2}' "$E2E_LOGS/hook.log" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || e2e_fail "hook events '$got', wanted '$want'"
	grep -q ' FAIL$' "$E2E_LOGS/hook.log" && e2e_fail "a hook event failed (hook.log)"
	e2e_log "ok: WiFi hops: $got"
}

no_secret_logged()
{
	local secret="$1" f
	for f in "$E2E_LOGS"/sonota.log "$E2E_LOGS"/sonota.debug; do
		[ -e "$f" ] || continue
		if grep -aqF -- "$secret" "$f"; then
			e2e_fail "the WiFi password appears in $(basename "$f")"
		fi
	done
	e2e_log "ok: the WiFi password is in no sonota-c log"
}

# ---- scenarios --------------------------------------------------------------------------------

# Stock user1 -> stock OTA fetches user2 -> FinalStage: one download of image_arduino.bin.
s_user1()
{
	images
	flow_ok basic-user1 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	expect_stock_ok "$ID1"
	e2e_expect_log devsim 'fetching user2\.bin from http://192\.168\.77\.5:8080/ota/image_user2-0x81000\.bin'
	expect_final_ok
	e2e_expect_log_count sonota 'FinalStage: 192\.168\.4\.1 started downloading' 1
	e2e_expect_log_count devsim 'E2A: Flashing rom' 1
	expect_hooks "sta-up sta-down finalstage-up finalstage-down"
}

# Stock user2 -> fetches user1 -> E2A ROM1 downloads user2 image, reboots, then arduino.
s_user2()
{
	images
	flow_ok basic-user2 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	expect_stock_ok "$ID1"
	e2e_expect_log devsim 'fetching user1\.bin from http://192\.168\.77\.5:8080/ota/image_user1-0x01000\.bin'
	e2e_expect_log_count sonota '^http 192\.168\.4\.1: GET /ota/image_user2-0x81000\.bin: 200, ([0-9]+)/\1 bytes, complete$' 1
	e2e_expect_log sonota '^FinalStage: image_user2-0x81000\.bin delivered in full; the device reboots'
	e2e_expect_log_count sonota '^http 192\.168\.4\.1: GET /ota/image_arduino\.bin: 200, ([0-9]+)/\1 bytes, complete$' 1
	expect_final_ok
	e2e_expect_log_count devsim 'E2A: Flashing rom' 2
	expect_hooks "sta-up sta-down finalstage-up finalstage-down finalstage-up finalstage-down"
}

# A chip that only runs DIO images (devsim: flash_modes=dio): every image it boots must be
# DIO, so sonota-c has to serve the dio variant (--flash-mode dio); the DOUT user images of
# the default would leave it unbootable (devsim exit 15).
s_dio()
{
	images
	"$MKIMAGE_BIN" arduino --mode dio -o "$IMG/image_arduino.bin" >>"$E2E_LOGS/mkimage.txt" 2>&1 ||
		e2e_fail "mkimage arduino --mode dio failed"
	flow_ok dio-only --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP" --flash-mode dio
	e2e_expect_log sonota '^images: dio variant'
	expect_stock_ok "$ID1"
	expect_final_ok
	local want
	want=$(sha256sum "$IMG/dio/image_user2-0x81000.bin" | cut -d' ' -f1)
	e2e_expect_log sonota "images: image_user2-0x81000\\.bin [0-9]+ bytes sha256 $want"
}

# --legacy: HTTPS/WSS on 443 plus a plain-HTTP listener on 8081.
s_legacy()
{
	images
	sonota_start --no-prov --serving-host "$HOME_IP" --legacy
	local ports
	ports=$(ip netns exec "$NS_SRV" ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' |
		sort -un | tr '\n' ' ')
	local p
	for p in 443 8080 8081; do
		case " $ports " in
		*" $p "*) ;;
		*) e2e_fail "with --legacy SRV listens on '$ports', wanted 443, 8080 and 8081" ;;
		esac
	done
	e2e_log "ok: SRV listens on $ports"
	devsim_start devsim basic-user1 --deviceid "$ID1" --start sta --server "$HOME_IP:443" \
		--expect-final "$IMG/image_arduino.bin"
	e2e_wait devsim
	local drc=$E2E_RC
	e2e_stop sonota 15
	local src=$E2E_RC sig=$E2E_SIGNALLED
	e2e_expect_exit devsim "$drc" 0
	expect_result devsim ok
	[ "$sig" = 0 ] || e2e_fail "sonota-c did not exit by itself within 15 s of the device's end" \
		"(stopped with SIGTERM, status $src)"
	e2e_expect_exit sonota-c "$src" 0
	e2e_expect_log devsim 'TLS to 192\.168\.77\.5:443: '
	expect_stock_ok "$ID1"
	expect_final_ok
}

# Old firmware without Range: full-speed GET -> ack 404 -> slow stream on reconnect -> success.
s_oldfw()
{
	# Small user images: /slowota/ paces ~4.7 KB/s (PROTOCOL.md §3.6).
	images --size-user 16384
	flow_ok pow-old-norange --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	e2e_expect_log sonota "device $ID1: upgrade sent \\(full speed, attempt 1\\)"
	e2e_expect_log sonota "device $ID1: upgrade sent \\(.*slow.*\\).*/slowota/"
	e2e_expect_log devsim 'ack 404'
	e2e_expect_log sonota "device $ID1 downloaded and verified the intermediate image \\(ack 0\\)"
	expect_final_ok
}

# Certificate-pinning firmware: no upgrade possible; ONE line naming the peer and the cause.
s_pinned()
{
	images
	sonota_start --no-prov --serving-host "$HOME_IP"
	devsim_start devsim pinned-1.6 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		--expect-final "$IMG/image_arduino.bin"
	e2e_wait devsim
	local drc=$E2E_RC
	e2e_stop sonota 2
	local src=$E2E_RC
	e2e_expect_exit devsim "$drc" 11
	expect_result devsim 'fail tls'
	# Still serving when stopped: SIGTERM -> 130 (interrupted).
	e2e_expect_exit sonota-c "$src" 130
	e2e_expect_log_count sonota '192\.168\.77\.50 closed its TLS connection during or right after the handshake.*Likely cause: .*pins' 1
	e2e_expect_log_count sonota 'pins' 1
	e2e_expect_nolog sonota 'upgrade sent'
}

# Five devices at once in stage 2 (--stop-after stock), each on its own home address.
s_five()
{
	images
	sonota_start --no-prov --serving-host "$HOME_IP"
	local i id ip ids=()
	for i in 1 2 3 4 5; do
		id=10000e2e0$i
		ids+=("$id")
		ip=$(e2e_dev_home_addr "$id") || e2e_fail "no home address for $id"
		devsim_start "devsim-$i" basic-user1 --deviceid "$id" --start sta \
			--server "$HOME_IP:8443" --bind "$ip" --stop-after stock
	done
	local bad=''
	for i in 1 2 3 4 5; do
		e2e_wait "devsim-$i"
		[ "$E2E_RC" = 0 ] || bad="$bad devsim-$i:$E2E_RC"
	done
	# All five reached ack 0; sonota-c now waits for FinalStage: stop it.
	e2e_stop sonota 1
	local src=$E2E_RC
	[ -z "$bad" ] || e2e_fail "devices failed:$bad"
	e2e_log "ok: all 5 devsim exited 0"
	for i in 1 2 3 4 5; do
		expect_result "devsim-$i" ok
		e2e_expect_log "devsim-$i" 'stock OTA done'
	done
	for id in "${ids[@]}"; do
		ip=$(e2e_dev_home_addr "$id")
		e2e_expect_log sonota "device $id \\(.*\\) registered from (::ffff:)?${ip//./\\.}\$"
		e2e_expect_log_count sonota "device $id downloaded and verified the intermediate image \\(ack 0\\)" 1
	done
	e2e_expect_log_count sonota 'downloaded and verified the intermediate image \(ack 0\)' 5
	e2e_expect_exit sonota-c "$src" 130
}

# The device loses WiFi at 50 % of its stock download and retries -> success.
s_drop50()
{
	images
	flow_ok drop50 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	e2e_expect_log_count sonota "device $ID1: upgrade sent" 2
	expect_stock_ok "$ID1"
	expect_final_ok
	expect_hooks "sta-up sta-down sta-up sta-down finalstage-up finalstage-down"
}

# A corrupted image is refused at start: non-zero exit naming file and rule, no port opened.
s_corrupt()
{
	local c file case rule
	for c in "dout/image_user2-0x81000.bin bad-checksum checksum" \
		"image_arduino.bin arduino-truncated app-truncated"; do
		read -r file case rule <<<"$c"
		images
		"$MKIMAGE_BIN" break "$case" "$IMG/$file" "$IMG/$file.bad" >>"$E2E_LOGS/mkimage.txt" 2>&1 ||
			e2e_fail "mkimage break $case failed"
		mv "$IMG/$file.bad" "$IMG/$file"
		set_sonota_common
		e2e_start sonota "$NS_SRV" 10 -- "$SONOTA_BIN" "${sonota_common[@]}" \
			--no-prov --serving-host "$HOME_IP"
		e2e_wait sonota
		e2e_expect_exit "sonota-c ($case)" "$E2E_RC" 3
		e2e_expect_log sonota "^error: images: .*/${file//./\\.}: $rule: "
		e2e_expect_nolog sonota '^listening:'
		mv "$E2E_LOGS/sonota.log" "$E2E_LOGS/sonota-$case.log"
		rm -rf "$IMG"
	done
}

# Negative control: a server that sends a wrong digest must make the user1 flow FAIL with
# devsim exit 13. This test passes only when that failure is observed.
s_negative-digest()
{
	images
	sonota_env=(SONOTA_TEST_FAULT=digest)
	sonota_start --no-prov --serving-host "$HOME_IP"
	# The fault hook exists only in test builds (-DSONOTA_TEST_FAULTS, meson -Dtest_faults).
	if ! grep -q 'TEST FAULT "digest" ACTIVE' "$E2E_LOGS/sonota.log"; then
		e2e_stop sonota 0
		e2e_netns_cleanup
		echo "e2e: SKIP: this sonota-c has no test fault hook (build with -Dtest_faults=true)" >&2
		exit 77
	fi
	devsim_start devsim basic-user1 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		--expect-final "$IMG/image_arduino.bin"
	e2e_wait devsim
	local drc=$E2E_RC
	e2e_stop sonota 1
	local src=$E2E_RC
	e2e_expect_exit devsim "$drc" 13
	expect_result devsim 'fail download'
	e2e_expect_log devsim 'RESULT fail download: .*(SHA-256|digest)'
	[ "$src" != 0 ] || e2e_fail "sonota-c exited 0 although the device failed"
	e2e_expect_nolog sonota '^stage: serving → stock-done'
	e2e_log "ok: the flow failed as it must (devsim 13, sonota-c $src)"
}

# Full takeover from stage 1: the device's pairing AP, provisioning, then as above.
takeover()
{
	local m="$1" hooks="$2" pw="e2e-secret-$RANDOM$RANDOM"
	images
	sonota_env=(SONOTA_WIFI_PASSWORD="$pw")
	flow_ok "$m" --deviceid "$ID1" --start ap --ssid-check e2e-home \
		-- --serving-host "$HOME_IP" --wifi-ssid e2e-home
	e2e_expect_log devsim 'POST /ap'
	expect_stock_ok "$ID1"
	expect_final_ok
	expect_hooks "$hooks"
	no_secret_logged "$pw"
}
s_takeover-user1()
{
	takeover basic-user1 "ap-up ap-down sta-up sta-down finalstage-up finalstage-down"
}
s_takeover-user2()
{
	takeover basic-user2 \
		"ap-up ap-down sta-up sta-down finalstage-up finalstage-down finalstage-up finalstage-down"
}

# A 4-channel DOUT-only unit on stock user2 from its pairing AP: it ignores a POST /ap split
# over several TCP segments, reports switches[], pings every 2 s, and two FinalStage downloads.
s_takeover-4ch()
{
	takeover dout-4ch \
		"ap-up ap-down sta-up sta-down finalstage-up finalstage-down finalstage-up finalstage-down"
	e2e_expect_log devsim 'AP: POST /ap: head and body arrived in 1 read$'
}

# A later unit whose ClientHello offers TLS 1.2.
s_tls12()
{
	images
	flow_ok tls12 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	e2e_expect_log devsim 'TLS to 192\.168\.77\.5:8443: TLSv1\.2, '
	expect_stock_ok "$ID1"
	expect_final_ok
}

# The laptop keeps 192.168.4.2 after the device left FinalStage (it has not noticed yet):
# sonota-c must finish after --done-timeout (3 s) and exit 0 by itself.
s_done-timeout()
{
	images
	touch "$E2E_WORK/srv-keeps-finalstage"
	flow_ok basic-user1 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	e2e_expect_log sonota 'FinalStage: image_arduino.bin delivered in full to 192\.168\.4\.1 '
	e2e_expect_log sonota '^stage: final-delivered → timeout → done$'
	e2e_expect_log sonota '^Done: the device runs the new firmware'
}

# --no-prov resumed at FinalStage: the stock OTA happened in an earlier run.
s_resume-e2a()
{
	images
	flow_ok basic-user1 --deviceid "$ID1" --start e2a --e2a-rom 2 \
		-- --no-prov --serving-host "$HOME_IP"
	expect_final_ok
	expect_hooks "finalstage-up finalstage-down"
}

# FinalStage drops halfway through image_arduino.bin; E2A retries; counted only when whole.
s_final-drop50()
{
	images
	flow_ok final-drop50 --deviceid "$ID1" --start sta --server "$HOME_IP:8443" \
		-- --no-prov --serving-host "$HOME_IP"
	expect_stock_ok "$ID1"
	expect_final_ok
	e2e_expect_log devsim 'E2A: WiFi dropped at [0-9]+ of [0-9]+ bytes'
	e2e_expect_log_count sonota '^http 192\.168\.4\.1: GET /ota/image_arduino\.bin: 200, [0-9]+/[0-9]+ bytes, aborted$' 1
	e2e_expect_log sonota 'FinalStage went away before image_arduino\.bin was delivered'
	e2e_expect_log_count sonota '^http 192\.168\.4\.1: GET /ota/image_arduino\.bin: 200, ([0-9]+)/\1 bytes, complete$' 1
	e2e_expect_log_count sonota 'FinalStage: image_arduino.bin delivered in full' 1
	e2e_expect_log_count devsim 'E2A: Flashing rom' 2
	expect_hooks "sta-up sta-down finalstage-up finalstage-down finalstage-up finalstage-down"
}

# The pairing AP closes before sonota-c can provision it: sonota-c must say so, not hang.
s_ap-timeout()
{
	images
	sonota_env=(SONOTA_WIFI_PASSWORD=e2e-password)
	sonota_start --serving-host "$HOME_IP" --wifi-ssid e2e-home
	# The device's HTTP server is not on port 80, so provisioning cannot succeed.
	devsim_start devsim basic-user1 --deviceid "$ID1" --start ap --ap-port 81 --ap-timeout 4 \
		--expect-final "$IMG/image_arduino.bin"
	e2e_wait devsim
	local drc=$E2E_RC
	e2e_expect_exit devsim "$drc" 10
	expect_result devsim 'fail ap-timeout'
	# sonota-c must notice that the device network went away, say so, and wait for the
	# next try (within 5 s of the AP closing).
	e2e_wait_log "$E2E_LOGS/sonota.log" '^stage: provisioning → ap-down → wait-ap$' 5 ||
		e2e_fail "sonota-c did not leave provisioning within 5 s of the AP closing"
	e2e_expect_log sonota "The device's WiFi went away before it was provisioned"
	e2e_expect_log sonota '^GET /device attempt 1 of [0-9]+: '
	# ...and must still react at once (not hang): SIGTERM -> 130 (interrupted).
	e2e_stop sonota 0
	e2e_expect_exit sonota-c "$E2E_RC" 130
	e2e_expect_log sonota '^stage: wait-ap → interrupt → failed$'
}

# A user at a terminal, with nothing on the command line: sonota-c asks for the address
# (menu), the SSID and the password (a too short one first), then takes the device over
# from its pairing AP. The password is typed with echo off, never shown nor logged.
s_prompts()
{
	local pw="e2e-typed-$RANDOM$RANDOM"
	images
	sonota_env=(E2E_TYPED_PW="$pw")
	sonota_pty_start \
		--step 'Select IP address \[0\]: =@ip:'"$HOME_IP" \
		--step 'WiFi SSID: =e2e-home' \
		--step 'WiFi password \(not shown\): =short' \
		--step 'A WPA2 password has 8 to 63[^\n]*\n+WiFi password \(not shown\): =@env:E2E_TYPED_PW' \
		--
	e2e_wait_log "$E2E_LOGS/sonota.log" '^listening:' 15 ||
		e2e_fail "sonota-c did not start listening after the prompts were answered"
	devsim_run_ok basic-user1 --deviceid "$ID1" --start ap --ssid-check e2e-home
	e2e_expect_log sonota '^pty-answer: exit 0, echo on$'
	e2e_expect_nolog sonota '^pty-answer: FAIL'
	e2e_expect_log sonota "^serving host $HOME_IP: "
	e2e_expect_log devsim 'POST /ap'
	expect_stock_ok "$ID1"
	expect_final_ok
	no_secret_logged "$pw"
}

# Ctrl-C at the password prompt: sonota-c stops at once with 130 and restores the echo
# (before, SIGINT was blocked for the loop's signalfd and the prompt ignored it).
s_prompt-interrupt()
{
	images
	sonota_pty_start \
		--step 'Select IP address \[0\]: =@ip:'"$HOME_IP" \
		--step 'WiFi SSID: =e2e-home' \
		--step 'WiFi password \(not shown\): =@intr' \
		--
	e2e_wait_log "$E2E_LOGS/sonota.log" '^pty-answer: exit' 3 ||
		e2e_fail "sonota-c did not stop within 3 s of Ctrl-C at the password prompt"
	# The wrapper has printed its last line; give it a moment to exit on its own.
	e2e_stop sonota 3
	[ "$E2E_SIGNALLED" = 0 ] || e2e_fail "the pty wrapper did not exit by itself after sonota-c"
	e2e_expect_exit pty-answer "$E2E_RC" 130
	e2e_expect_log sonota '^pty-answer: exit 130, echo on$'
	e2e_expect_log sonota 'interrupted at the WiFi password prompt'
	e2e_expect_nolog sonota '^listening:'
}

# A whole image_arduino.bin fetched by someone other than FinalStage's device (here the
# laptop itself, as a user testing with curl would) is not the final delivery: sonota-c
# must say so and keep waiting, never report a takeover that did not happen.
s_stray-final()
{
	images
	sonota_start --no-prov --serving-host "$HOME_IP"
	timeout 10 ip netns exec "$NS_SRV" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 &&
		printf "GET /ota/image_arduino.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3 &&
		cat <&3' >"$E2E_WORK/stray.http" ||
		e2e_fail "fetching image_arduino.bin from 127.0.0.1 failed"
	local size got
	size=$(stat -c %s "$IMG/image_arduino.bin")
	got=$(stat -c %s "$E2E_WORK/stray.http")
	[ "$got" -gt "$size" ] || e2e_fail "got $got bytes for a $size-byte image"
	e2e_wait_log "$E2E_LOGS/sonota.log" \
		'^http 127\.0\.0\.1: GET /ota/image_arduino\.bin: 200, ([0-9]+)/\1 bytes, complete$' 5 ||
		e2e_fail "no access line for the complete download from 127.0.0.1"
	e2e_expect_log sonota '127\.0\.0\.1 fetched image_arduino\.bin, but only FinalStage.s device \(192\.168\.4\.1\) counts'
	sleep 1
	e2e_running sonota || e2e_fail "sonota-c ended after a download that was not the device's"
	e2e_expect_nolog sonota 'delivered in full'
	e2e_expect_nolog sonota 'final-delivered'
	e2e_stop sonota 0
	e2e_expect_exit sonota-c "$E2E_RC" 130
}

# Many devices at once: 50 stock sessions (tests' bench/wssload: one TLS dispatch and one
# websocket each, capped at TLS 1.1, every one its own deviceid) each register and get an
# upgrade with the right digests, and are held open. A 51st device beyond --max-devices 50
# is refused by name while the 50 carry on undisturbed. Secrets at any scale (issue 9,
# item 4): wssload records every apikey it sent (the devices' own) and received (the
# server's, from each register reply); none may appear in clear in any log of sonota-c:
# the console at debug level (-vv), the debug log (--log-file) and the --json output.
s_many()
{
	local n=50
	if [ -z "${WSSLOAD_BIN:-}" ] || [ ! -x "$WSSLOAD_BIN" ]; then
		e2e_fail "WSSLOAD_BIN is not set to an executable: run through meson test"
	fi
	images
	# --json goes to stdout (sonota.json), the console to stderr (sonota.log)
	set_sonota_common
	e2e_start sonota "$NS_SRV" "$SONOTA_BOUND" -- bash -c 'out=$1; shift; exec "$@" >"$out"' \
		many-json "$E2E_LOGS/sonota.json" "$SONOTA_BIN" "${sonota_common[@]}" -vv --json \
		--no-prov --serving-host "$HOME_IP" --max-devices "$n"
	e2e_wait_log "$E2E_LOGS/sonota.log" '^listening:' 10 ||
		e2e_fail "sonota-c did not print its 'listening:' line within 10 s"
	local keys="$E2E_LOGS/keys.txt"
	: >"$keys"
	e2e_start wssload "$NS_SRV" 45 -- "$WSSLOAD_BIN" "$HOME_IP" 8443 "$n" --hold 5 \
		--timeout 30 --deviceid-prefix 1000aa --keys-file "$keys"
	e2e_wait_log "$E2E_LOGS/wssload.log" "^wssload: $n sessions up\$" 32 ||
		e2e_fail "the $n sessions did not all come up within 32 s"
	e2e_start extra "$NS_SRV" 20 -- "$WSSLOAD_BIN" "$HOME_IP" 8443 1 --hold 1 \
		--timeout 10 --deviceid-prefix 1000bb --keys-file "$keys"
	e2e_wait extra
	e2e_expect_exit "the 51st device's wssload" "$E2E_RC" 1
	e2e_wait wssload
	e2e_expect_exit "wssload ($n sessions)" "$E2E_RC" 0
	e2e_stop sonota 0
	e2e_expect_exit sonota-c "$E2E_RC" 130
	e2e_expect_log_count sonota 'device 1000aa[0-9a-f]{4} \(ITA-GZ1-GL.*\) registered from' "$n"
	e2e_expect_log_count sonota 'device 1000aa[0-9a-f]{4}: upgrade sent' "$n"
	e2e_expect_log_count sonota "device 1000bb0000 refused: $n devices are served already" 1
	e2e_expect_nolog sonota 'device 1000aa[0-9a-f]{4} refused'
	# every key seen, in every log
	local nd ns f kind total bad=''
	nd=$(grep -c '^device ' "$keys")
	ns=$(grep -c '^server ' "$keys")
	[ "$nd" -ge $((n + 1)) ] || e2e_fail "keys.txt holds $nd device apikeys, wanted $((n + 1))"
	[ "$ns" -ge "$n" ] || e2e_fail "keys.txt holds $ns server apikeys, wanted >= $n"
	[ -s "$E2E_LOGS/sonota.debug" ] || e2e_fail "no debug log (sonota.debug)"
	[ -s "$E2E_LOGS/sonota.json" ] || e2e_fail "no --json output (sonota.json)"
	for f in sonota.log sonota.debug sonota.json; do
		for kind in device server; do
			awk -v k="$kind" '$1 == k { print $3 }' "$keys" | sort -u >"$E2E_WORK/k.$kind"
			total=$(wc -l <"$E2E_WORK/k.$kind")
			grep -aoiF -f "$E2E_WORK/k.$kind" "$E2E_LOGS/$f" | tr 'A-F' 'a-f' | sort -u \
				>"$E2E_WORK/hits" || true
			if [ -s "$E2E_WORK/hits" ]; then
				bad="$bad; $f: $(wc -l <"$E2E_WORK/hits") of $total $kind apikeys in clear (e.g. $(head -n 1 "$E2E_WORK/hits"))"
			else
				e2e_log "ok: none of the $total $kind apikeys is in $f"
			fi
		done
	done
	[ -z "$bad" ] || e2e_fail "apikeys in clear${bad}"
}

# ---- engine: waits that end and explain themselves ----------------------------------------------

# The commonest user error: the device takes the settings, leaves its AP and never reaches the
# home WiFi (devsim: the POST carries an SSID it cannot join). One line must say so, with the
# causes in order (password, SSID, 5 GHz, isolation, firewall port) and what to do; at
# --call-timeout sonota-c exits 1 with that diagnosis in its summary.
s_wrong-password()
{
	images
	sonota_env=(SONOTA_WIFI_PASSWORD=e2e-wrong-pw)
	local t0=$SECONDS
	sonota_start --serving-host "$HOME_IP" --wifi-ssid e2e-home --call-timeout 8
	devsim_start devsim basic-user1 --deviceid "$ID1" --start ap --ssid-check other-wifi
	e2e_wait devsim
	e2e_expect_exit devsim "$E2E_RC" 17
	e2e_stop sonota 20
	local src=$E2E_RC sig=$E2E_SIGNALLED
	[ "$sig" = 0 ] || e2e_fail "sonota-c did not end by itself at its --call-timeout"
	e2e_expect_exit sonota-c "$src" 1
	e2e_expect_log sonota '^stage: wait-home → home-up → wait-call$'
	e2e_expect_log_count sonota '^The device took the WiFi settings and left its WiFi, but has not called 192\.168\.77\.5:8443 yet\.' 1
	e2e_expect_log sonota 'has not called .* yet\. Likely causes, most likely first: 1\) a wrong WiFi password; 2\) a wrong SSID \("e2e-home".*3\) a 5 GHz-only network.*4\) client isolation.*5\) a firewall on this computer blocking TCP port 8443.*pairing mode again.*rerun sonota-c'
	e2e_expect_log sonota '^stage: wait-call → timeout → failed$'
	e2e_expect_log sonota '^  why the run ended: The device took the WiFi settings .* within 8 s \(--call-timeout\)\. Likely causes, most likely first: 1\) a wrong WiFi password.* then rerun sonota-c\.$'
	e2e_expect_log sonota "^  device: none reached the emulated cloud in this run"
	# The notice comes at half the limit (4 s), before the failure.
	local notice fail
	notice=$(grep -n 'has not called .* yet\.' "$E2E_LOGS/sonota.log" | cut -d: -f1)
	fail=$(grep -n '^stage: wait-call → timeout → failed$' "$E2E_LOGS/sonota.log" | cut -d: -f1)
	[ "$notice" -lt "$fail" ] || e2e_fail "the notice came after the failure"
	[ $((SECONDS - t0)) -lt 40 ] || e2e_fail "took $((SECONDS - t0)) s"
	no_secret_logged e2e-wrong-pw
}

# POST /ap is never answered and the device's AP stays up: bounded runs (3), then a clear
# failure (exit 1) with the reason in the summary, not a wait without end.
s_post-unanswered()
{
	images
	sonota_env=(SONOTA_WIFI_PASSWORD=e2e-password)
	sonota_start --serving-host "$HOME_IP" --wifi-ssid e2e-home
	devsim_start devsim basic-user1 --deviceid "$ID1" --start ap --ap-post-silent \
		--ap-timeout 44
	e2e_wait_log "$E2E_LOGS/sonota.log" '^stage: [a-z-]+ → [a-z-]+ → failed$' 45 ||
		e2e_fail "sonota-c did not give up on the unanswered POST /ap"
	e2e_stop sonota 5
	local src=$E2E_RC
	e2e_stop devsim 0
	e2e_expect_exit sonota-c "$src" 1
	e2e_expect_log_count devsim 'AP: --ap-post-silent: no reply to POST /ap' 3
	e2e_expect_log_count sonota '^stage: provisioning → prov-no-reply → posted$' 3
	e2e_expect_log_count sonota '^stage: posted → timeout → provisioning$' 2
	e2e_expect_log sonota 'Provisioning again \(run 2 of 3\)'
	e2e_expect_log sonota 'Provisioning again \(run 3 of 3\)'
	e2e_expect_log sonota '^stage: posted → timeout → failed$'
	e2e_expect_log sonota '^  why the run ended: The device never answered POST /ap and kept its WiFi up after 3 runs'
}

# The terminal closes (SIGHUP): the same teardown and summary as SIGTERM, exit 130.
s_sighup()
{
	images
	sonota_start --no-prov --serving-host "$HOME_IP"
	local child
	child=$(pgrep -P "${E2E_PID[sonota]}" | head -n 1)
	[ -n "$child" ] || e2e_fail "no sonota-c process under the timeout wrapper"
	kill -HUP "$child"
	e2e_stop sonota 5
	local src=$E2E_RC sig=$E2E_SIGNALLED
	[ "$sig" = 0 ] || e2e_fail "sonota-c did not exit by itself after SIGHUP"
	e2e_expect_exit sonota-c "$src" 130
	e2e_expect_log sonota '^Hangup received$'
	e2e_expect_log sonota '^stage: wait-call → interrupt → failed$'
	e2e_expect_log sonota 'Interrupted before the final image was delivered: the device is NOT done'
	e2e_expect_log sonota '^Summary:$'
	e2e_expect_log sonota '^  total: '
	e2e_expect_log sonota '^exit 130$'
}

# --max-devices N admits exactly N devices: a websocket that never registered (here a probe
# whose first frame is `update`) must not take a place. Before, it did, and with
# --max-devices 256 only 255 devices got in.
s_max-devices-exact()
{
	if [ -z "${WSSLOAD_BIN:-}" ] || [ ! -x "$WSSLOAD_BIN" ]; then
		e2e_fail "WSSLOAD_BIN is not set to an executable: run through meson test"
	fi
	images
	sonota_start --no-prov --serving-host "$HOME_IP" --max-devices 3
	e2e_start probe "$NS_SRV" 30 -- python3 "$HERE/ws-probe.py" "$HOME_IP" 8443 20
	e2e_wait_log "$E2E_LOGS/probe.log" '^probe: update sent, holding$' 10 ||
		e2e_fail "the probe did not get its websocket up"
	e2e_start wssload "$NS_SRV" 30 -- "$WSSLOAD_BIN" "$HOME_IP" 8443 3 --hold 5 \
		--timeout 15 --deviceid-prefix 1000aa
	e2e_wait_log "$E2E_LOGS/wssload.log" '^wssload: 3 sessions up$' 15 ||
		e2e_fail "3 devices did not all get in with --max-devices 3 and one probe open"
	e2e_start extra "$NS_SRV" 20 -- "$WSSLOAD_BIN" "$HOME_IP" 8443 1 --hold 1 \
		--timeout 10 --deviceid-prefix 1000bb
	e2e_wait extra
	e2e_expect_exit "the 4th device's wssload" "$E2E_RC" 1
	e2e_wait wssload
	e2e_expect_exit "wssload (3 sessions)" "$E2E_RC" 0
	e2e_stop probe 0
	e2e_stop sonota 0
	e2e_expect_exit sonota-c "$E2E_RC" 130
	e2e_expect_log_count sonota 'device 1000aa[0-9a-f]{4} \(.*\) registered from' 3
	e2e_expect_log_count sonota 'device 1000bb0000 refused: 3 devices are served already' 1
	e2e_expect_nolog sonota 'device 1000aa[0-9a-f]{4} refused'
}

"s_$SCENARIO"
e2e_netns_cleanup
e2e_root_clean --final || e2e_fail "the root namespace is not clean after the run"
e2e_pass "$SCENARIO"
