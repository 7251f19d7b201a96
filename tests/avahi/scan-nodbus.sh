#!/usr/bin/env bash
# `sonota-c --scan` in a build without libsystemd (-Dnm=disabled): one clear line, the
# --device-ip hint, exit 1 (issue 11 §1).
set -u
out=$(timeout 10 "$1" --scan 2>&1 >/dev/null)
rc=$?
echo "$out"
[ "$rc" = 1 ] || { echo "FAIL: exit $rc, want 1"; exit 1; }
[ "$out" = "sonota-c: this build has no D-Bus support (built without libsystemd): --scan cannot ask Avahi for the devices on this LAN; name the device with --device-ip IP" ] ||
	{ echo "FAIL: not the expected line"; exit 1; }
