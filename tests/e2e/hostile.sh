#!/bin/bash
# hostile.sh GROUP: the rows of tests/e2e/hostile.tsv in GROUP against the real sonota-c,
# inside two network namespaces made for this run (tests/e2e/lib.sh).
#
# One sonota-c per group (--no-prov --max-devices 256, debug log, -v). Every row is played
# from the device namespace at HOSTILE_ADDR by tests/e2e/hostile.py (or, for TARGET
# wssload/ack404, by bench/wssload from the laptop's namespace), and then:
#   - sonota-c must be running and its image server answer a HEAD within 5 s;
#   - its RSS must stay under HOSTILE_RSS_MAX_KB;
#   - AFTER "log": no line of the debug log or the console starts with FORGED-<ID>, and
#     none has it after a raw CR or ESC (a forged entry a user would take for ours);
#   - AFTER "dev" (and at the end of the group): a good simulated device (devsim
#     basic-user1, its own home address) completes its stage 2 (--stop-after stock).
# Every row is played even after a failure; the test fails if any row or check failed, with
# a summary line per failure. Exit 0 pass, 1 fail, 77 skipped (not root, binary missing).
#
# Environment (meson passes it): SONOTA_BIN DEVSIM_BIN MKIMAGE_BIN WSSLOAD_BIN
# DEVSIM_MODELS E2E_CERT E2E_KEY E2E_LOGDIR; HOSTILE_TSV (default: next to this file);
# HOSTILE_ONLY=ID[,ID...] plays only those rows of GROUP.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

GROUP="${1:-}"
TSV=${HOSTILE_TSV:-$HERE/hostile.tsv}
PY=/usr/bin/python3			# by absolute path: standard library only
HOSTILE_ADDR=192.168.77.250		# the hostile client's home address (not in devsim's range)
HOSTILE_RSS_MAX_KB=81920		# 80 MB: 200 held sessions measured 23-37 MB (docs/PERFORMANCE.md)
HOSTILE_RSS_MAX_KB_ASAN=1048576		# under ASan (shadow memory, quarantine): 1 GB
HOSTILE_ROW_BOUND=50			# seconds any one row may take (the client's own bound)
DEV_TIMEOUT=15				# the good device's --timeout (it needs 1-3 s)
SONOTA_BOUND=170			# sonota-c's process bound: longer than any group

[ -n "$GROUP" ] || { echo "usage: $0 GROUP   (img, cloud1, cloud2, cloud3, scale)" >&2; exit 2; }
grep -q "^[^#][^	]*	$GROUP	" "$TSV" || { echo "hostile: no rows of group '$GROUP' in $TSV" >&2; exit 2; }
for v in SONOTA_BIN DEVSIM_BIN MKIMAGE_BIN WSSLOAD_BIN; do
	if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
		echo "hostile: SKIP: $v is not set to an executable ('${!v:-}'); run through" \
			"'meson test --suite e2e'" >&2
		exit 77
	fi
done
[ -x "$PY" ] || { echo "hostile: SKIP: no $PY" >&2; exit 77; }
DEVSIM_MODELS="${DEVSIM_MODELS:-$HERE/../devsim/models}"
e2e_require_root

HOME_IP=${E2E_HOME_SRV%/*}
e2e_init "hostile-$GROUP"
e2e_netns_setup
e2e_ip "$NS_DEV" addr add "$HOSTILE_ADDR/24" dev "$E2E_IF" || e2e_fail "cannot add $HOSTILE_ADDR"

IMG="$E2E_WORK/img"
# small user images: the good device's download after many rows stays short
"$MKIMAGE_BIN" set "$IMG" --size-user 16384 >"$E2E_LOGS/mkimage.txt" 2>&1 ||
	e2e_fail "mkimage set failed: $(tail -n 3 "$E2E_LOGS/mkimage.txt")"

args=(--images "$IMG" --log-file "$E2E_LOGS/sonota.debug" -v --no-prov
	--serving-host "$HOME_IP" --max-devices 256 --done-timeout 3600 --wifi manual)
[ -n "${E2E_CERT:-}" ] && args+=(--cert "$E2E_CERT" --key "$E2E_KEY")
e2e_start sonota "$NS_SRV" "$SONOTA_BOUND" -- "$SONOTA_BIN" "${args[@]}"
e2e_wait_log "$E2E_LOGS/sonota.log" '^listening:' 10 ||
	e2e_fail "sonota-c did not print its 'listening:' line within 10 s"
SONOTA_PID=$(pgrep -P "${E2E_PID[sonota]}" | head -n 1)
[ -n "$SONOTA_PID" ] || e2e_fail "cannot find sonota-c's pid"
rss_max=$HOSTILE_RSS_MAX_KB
grep -q 'libasan\|libclang_rt.asan' "/proc/$SONOTA_PID/maps" 2>/dev/null &&
	rss_max=$HOSTILE_RSS_MAX_KB_ASAN

failures=()
fail_row() { failures+=("$1: $2"); echo "hostile: $1: FAIL: $2" >&2; }

# A good device: basic-user1 from its own home address through the stock OTA.
ndev=0
good_device()
{
	local why="$1" id ip
	ndev=$((ndev + 1))
	id=$(printf '10000e2d%02x' "$ndev")
	ip=$(e2e_dev_home_addr "$id") || e2e_fail "no home address for $id"
	e2e_start "devsim-$ndev" "$NS_DEV" $((DEV_TIMEOUT + 5)) -- "$DEVSIM_BIN" \
		--model "$DEVSIM_MODELS/basic-user1.model" --deviceid "$id" --start sta \
		--server "$HOME_IP:8443" --bind "$ip" --stop-after stock --hook "$E2E_HOOK" \
		--timeout "$DEV_TIMEOUT"
	e2e_wait "devsim-$ndev"
	if [ "$E2E_RC" = 0 ]; then
		echo "hostile: good device $id after $why: ok" >&2
	else
		fail_row "$why" "a good device ($id) did not complete its stage 2 afterwards: exit $E2E_RC, $(tail -n 1 "$E2E_LOGS/devsim-$ndev.log")"
	fi
}

# Checks after every row: alive, answering (PROBE=1: probe here; hostile.py rows probe
# themselves with --then-probe), RSS.
after_row()
{
	local id="$1" probe="$2" out rss
	if ! kill -0 "$SONOTA_PID" 2>/dev/null; then
		fail_row "$id" "sonota-c is no longer running"
		e2e_fail "sonota-c died after row $id; failures: $(printf '%s; ' "${failures[@]}")"
	fi
	[ "$probe" = 0 ] || out=$(timeout 10 ip netns exec "$NS_DEV" "$PY" "$HERE/hostile.py" \
		--host "$HOME_IP" --bind "$HOSTILE_ADDR" --probe 2>&1) ||
		fail_row "$id" "not answering afterwards: $out"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SONOTA_PID/status")
	[ "${rss:-0}" -le "$rss_max" ] ||
		fail_row "$id" "sonota-c's RSS is $rss kB, over the bound of $rss_max kB"
	echo "hostile: after $id: alive, RSS $rss kB" >&2
}

# No forged entry in the logs: FORGED-<ID> must never start a line, nor follow only the
# log's own prefix (debug log "YYYY-MM-DD HH:MM:SS.mmm LEVEL: ", console "level: "), a raw
# CR or an escape sequence: there it would pass for an entry of ours.
LOG_PREFIX_RE='([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ [A-Za-z]+: |[a-z]+: )?'
log_check()
{
	local id="$1" f hit
	sleep 0.3 # the log line of the row's last event
	for f in sonota.debug sonota.log; do
		hit=$(grep -aP "(^$LOG_PREFIX_RE|\\r|\\x1b\\[[0-9;]*[A-Za-z])FORGED-$id( |\$)" \
			"$E2E_LOGS/$f" | head -n 1)
		[ -z "$hit" ] || fail_row "$id" "$f has a forged line: $(printf '%q' "$hit")"
	done
}

# wssload rows: the sessions of INPUT come up (up=N) from the laptop's namespace.
row_wssload()
{
	local id="$1" input="$2" expect="$3" n
	n=${expect#up=}
	# shellcheck disable=SC2086
	e2e_start "wssload-$id" "$NS_SRV" "$HOSTILE_ROW_BOUND" -- "$WSSLOAD_BIN" "$HOME_IP" 8443 $input
	e2e_wait "wssload-$id"
	if [ "$E2E_RC" = 0 ]; then
		echo "hostile: $id: PASS: all $n sessions came up" >&2
	else
		fail_row "$id" "wssload exit $E2E_RC: $(grep -m1 'FAILED' "$E2E_LOGS/wssload-$id.log") $(tail -n 1 "$E2E_LOGS/wssload-$id.log")"
	fi
}

# ack404 rows: one device acking every upgrade 404; it must be given up (gave-up=N).
row_ack404()
{
	local id="$1" input="$2" expect="$3" max prefix sent
	max=${expect#gave-up=}
	prefix=$(sed -n 's/.*--deviceid-prefix \([0-9a-f]*\).*/\1/p' <<<"$input")
	# shellcheck disable=SC2086
	e2e_start "wssload-$id" "$NS_SRV" "$HOSTILE_ROW_BOUND" -- "$WSSLOAD_BIN" "$HOME_IP" 8443 1 \
		--download --ack-error 404 --attempts $((max + 3)) --timeout 40 $input
	e2e_wait "wssload-$id"
	sleep 0.5
	sent=$(grep -c "device ${prefix}0000: upgrade sent" "$E2E_LOGS/sonota.log")
	if [ "$sent" -gt "$max" ]; then
		fail_row "$id" "the upgrade was offered $sent times to a device that acks 404 every time (at most $max)"
	elif ! grep -Eiq "${prefix}0000.*(gave up|giving up|gave-up|give up|abandon|no longer|not .*again)" \
		"$E2E_LOGS/sonota.log"; then
		fail_row "$id" "offered $sent times, but no line says that sonota-c gave up on ${prefix}0000"
	else
		echo "hostile: $id: PASS: offered $sent times, then given up with a diagnosis" >&2
	fi
}

nrows=0
dev_last=0
while IFS=$'\t' read -r id group target input expect after why; do
	case "$id" in '' | '#'*) continue ;; esac
	[ "$group" = "$GROUP" ] || continue
	if [ -n "${HOSTILE_ONLY:-}" ]; then
		case ",$HOSTILE_ONLY," in *",$id,"*) ;; *) continue ;; esac
	fi
	nrows=$((nrows + 1))
	echo "hostile: ---- $id ($target): $why" >&2
	probe=1
	case "$target" in
	wssload) row_wssload "$id" "$input" "$expect" ;;
	ack404) row_ack404 "$id" "$input" "$expect" ;;
	*)
		probe=0
		line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$id" "$group" "$target" "$input" \
			"$expect" "$after" "$why")
		out=$(timeout "$HOSTILE_ROW_BOUND" ip netns exec "$NS_DEV" "$PY" "$HERE/hostile.py" \
			--host "$HOME_IP" --bind "$HOSTILE_ADDR" --row "$line" --then-probe 2>&1)
		rc=$?
		echo "$out" >&2
		case $rc in
		0) ;;
		2) e2e_fail "row $id is malformed: $out" ;;
		3) fail_row "$id" "not answering afterwards: ${out##*probe: }" ;;
		*)
			fail_row "$id" "$(sed -n "s/^hostile: $id: FAIL: //p" <<<"$out" | head -n 1)"
			grep -q '^hostile: probe: PASS' <<<"$out" ||
				fail_row "$id" "not answering afterwards: ${out##*probe: }"
			;;
		esac
		;;
	esac
	after_row "$id" "$probe"
	case ",$after," in *",log,"*) log_check "$id" ;; esac
	dev_last=0
	case ",$after," in *",dev,"*) good_device "$id"; dev_last=1 ;; esac
done <"$TSV"
[ "$nrows" -gt 0 ] || e2e_fail "no row played"
[ "$dev_last" = 1 ] || good_device "the last row of $GROUP"
after_row "end of $GROUP" 1

e2e_stop sonota 0
[ "$E2E_RC" = 130 ] || fail_row "end" "sonota-c exited $E2E_RC on SIGTERM, not 130"
if [ "${#failures[@]}" -gt 0 ]; then
	printf 'hostile: FAILED: %s\n' "${failures[@]}" >&2
	e2e_fail "${#failures[@]} failure(s) in $nrows rows of group $GROUP"
fi
e2e_netns_cleanup
e2e_root_clean --final || e2e_fail "the root namespace is not clean after the run"
e2e_pass "$nrows rows of group $GROUP"
