#!/bin/sh
# diy-check-images.sh SONOTA MKIMAGE: `--check-images --diy-image FILE` reports the DIY
# route's image by that route's rules (src/diyfile.h, docs/diy.md) and exits 3 when it breaks
# one, naming the rule; a valid one leaves the exit code at 0. --diy-image without
# --check-images is refused (exit 2): the DIY route is not wired into a run yet, and
# silently running the cloud route instead would mislead. Needs no root and opens no port.
set -u
sonota=$1 mkimage=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
# run WANT_RC PATTERN ARGS...: sonota-c ARGS exits WANT_RC and prints a line matching PATTERN
run() {
	want=$1 pat=$2
	shift 2
	out=$("$sonota" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ "$rc" = "$want" ] || bad "sonota-c $*: exit $rc, want $want"
	printf '%s\n' "$out" | grep -Eq -- "$pat" || bad "sonota-c $*: no line matching /$pat/"
}

"$mkimage" set "$dir/images" >/dev/null || { echo "mkimage set failed" >&2; exit 1; }
"$mkimage" arduino --mode dout -o "$dir/tasmota-lite.bin" >/dev/null &&
	"$mkimage" arduino --mode qio -o "$dir/qio.bin" >/dev/null &&
	"$mkimage" arduino --mode dout --size 520192 -o "$dir/big.bin" >/dev/null &&
	"$mkimage" arduino --mode dout -o "$dir/tasmota-minimal.bin" >/dev/null ||
	{ echo "mkimage arduino failed" >&2; exit 1; }
gzip -c "$dir/tasmota-lite.bin" >"$dir/lite.bin.gz"

# The control: the images set alone passes, so an exit 3 below is the DIY image's doing.
run 0 'ok|OK' --check-images="$dir/images"
run 0 "^diy $dir/tasmota-lite.bin: ok, [0-9]+ bytes, flash mode DOUT, sha256 [0-9a-f]{64}\$" \
	--check-images="$dir/images" --diy-image "$dir/tasmota-lite.bin"
run 3 "^diy $dir/qio.bin: INVALID: mode" --check-images="$dir/images" --diy-image "$dir/qio.bin"
run 3 "^diy $dir/big.bin: INVALID: too-large" --check-images="$dir/images" \
	--diy-image "$dir/big.bin"
run 3 "^diy $dir/tasmota-minimal.bin: INVALID: minimal" --check-images="$dir/images" \
	--diy-image "$dir/tasmota-minimal.bin"
run 3 "^diy $dir/lite.bin.gz: INVALID: gzip" --check-images="$dir/images" \
	--diy-image "$dir/lite.bin.gz"
run 3 "^diy $dir/missing.bin: " --check-images="$dir/images" --diy-image "$dir/missing.bin"
# Without --diy the DIY image is refused before anything starts (never run through the
# cloud route); --diy without an image, and the cloud route's WiFi settings with --diy, too.
run 2 'needs --diy' --no-prov --serving-host 192.0.2.1 --no-log-file \
	--diy-image "$dir/tasmota-lite.bin"
run 2 'needs --diy-image' --diy --no-log-file
run 2 'do not apply' --diy --no-prov --no-log-file --diy-image "$dir/tasmota-lite.bin"
run 2 'device-ip: needs --diy or --scan' --device-ip 192.0.2.7 --no-log-file
run 2 'loopback' --diy --device-ip 127.0.0.1 --no-log-file --diy-image "$dir/tasmota-lite.bin"
# --diy with a QIO image: refused by the DIY rules before any port opens (exit 3)
run 3 'DIY image: .*mode' --diy --device-ip 192.0.2.7 --no-log-file --diy-image "$dir/qio.bin"
# diymore: --device-id: only with --diy or --scan, not with --device-ip, letters and digits
run 2 'device-id: needs --diy or --scan' --device-id 1000abcdef --no-log-file
run 2 'device-id: cannot be used with --device-ip' --diy --device-id 1000abcdef \
	--device-ip 192.0.2.7 --no-log-file --diy-image "$dir/tasmota-lite.bin"
run 2 'device-id: .*letters and digits' --diy --device-id '1000"abc' --no-log-file \
	--diy-image "$dir/tasmota-lite.bin"
run 2 'device-id: .*1 to 32 bytes' --scan --device-id 1000abcdef1000abcdef1000abcdef123 \
	--no-log-file

[ "$fail" = 0 ] && echo "diy-check-images: ok"
exit "$fail"
