#!/usr/bin/env bash
# The demo: set up, build, and take over the built-in simulated Sonoff, showing the
# console a user would see. As root on Debian 12:  bash scripts/demo.sh [MODEL]
#
# Everything runs inside two private network namespaces that this script creates and
# deletes (tests/e2e/lib.sh): "the laptop" runs sonota-c, "the Sonoff" runs the device
# simulator (tests/devsim). The simulator's WiFi hops (its ITEAD-<id> AP, the home WiFi,
# FinalStage) are played by moving addresses between them, which is what a user does by
# joining networks. No address is added to this machine's own network. Like any run as
# root without --cert, sonota-c keeps its generated certificate in /var/lib/sonota-c
# (README.md, Install), and reuses it next time.
#
# MODEL is a file name in tests/devsim/models without .model (default basic-user2:
# a Sonoff Basic running stock firmware 1.5.5 from its second slot, which needs two
# FinalStage downloads). The images are synthetic ones made by tests/tools/mkimage.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
model=${1:-basic-user2}
[ -f "tests/devsim/models/$model.model" ] || {
	echo "demo: no model tests/devsim/models/$model.model" >&2
	exit 2
}

bash scripts/setup.sh
[ -d build ] || meson setup build
ninja -C build >/dev/null

. tests/e2e/lib.sh
e2e_require_root
e2e_init demo
e2e_netns_setup
e2e_hook_write "$E2E_HOOK"
images="$E2E_WORK/images"
build/tests/tools/mkimage set "$images" >/dev/null

cat <<TXT

== sonota-c demo ==========================================================
A simulated Sonoff ($model) sits in pairing mode. sonota-c runs as a user would
start it on a laptop at home (192.168.77.5, WiFi "HomeNet"). The simulator's log
goes to $E2E_LOGS/device.log; below is sonota-c's console.
===========================================================================

TXT

# The device starts a moment after sonota-c, like a user pressing its button.
e2e_start device "$NS_DEV" 120 -- sh -c "sleep 1; exec '$top/build/tests/devsim/devsim' \
	--model '$top/tests/devsim/models/$model.model' --start ap --hook '$E2E_HOOK' \
	--expect-final '$images/image_arduino.bin' --blink-ms 1500 --timeout 110"

rc=0
timeout --foreground -k 3 120 ip netns exec "$NS_SRV" env SONOTA_WIFI_PASSWORD=demo-password \
	build/sonota-c --serving-host 192.168.77.5 --wifi-ssid HomeNet --images "$images" \
	--log-file "$E2E_WORK/sonota.log" --done-timeout 10 --wifi manual || rc=$?

e2e_wait device || true
dev_rc=$E2E_RC
echo
echo "== the simulated device says: $(tail -n 1 "$E2E_LOGS/device.log")"
echo "== sonota-c exited $rc, the device simulator exited $dev_rc"
if [ "$rc" = 0 ] && [ "$dev_rc" = 0 ]; then
	echo "== demo: takeover complete; the simulated flash holds exactly image_arduino.bin"
	exit 0
fi
echo "== demo: FAILED; the device's log:" >&2
tail -n 30 "$E2E_LOGS/device.log" >&2
exit 1
