#!/bin/bash
# bus.sh: the private system bus of the NM tests, sourced by run.sh and run-sonota.sh.
#
#   nmbus_start DIR   dbus-daemon of type "system" listening on the path socket DIR/bus
#                     (never the machine's bus; a path, not an abstract socket, so that
#                     network namespaces reach it); sets bus_pid and exports
#                     DBUS_SYSTEM_BUS_ADDRESS. Returns 1 if the socket did not appear
#                     within $step_timeout s.
#   nmbus_wait_owned  until NetworkManager's name has an owner on it (the mock is up), at
#                     most $step_timeout s; 1 if not.
# The caller sets step_timeout and kills $bus_pid on exit (its trap).
# shellcheck disable=SC2034,SC2154 # bus_pid is the caller's, step_timeout too

nmbus_start()
{
	local dir="$1" i
	cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_type="*"/>
    <allow send_type="*"/>
  </policy>
</busconfig>
CONF
	dbus-daemon --config-file="$dir/bus.conf" --nofork >"$dir/bus.log" 2>&1 &
	bus_pid=$!
	for ((i = 0; i < step_timeout * 20; i++)); do
		[ -S "$dir/bus" ] && break
		sleep 0.05
	done
	[ -S "$dir/bus" ] || return 1
	export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus"
}

# python3-dbus is there with dbusmock; busctl may not be.
nmbus_wait_owned()
{
	/usr/bin/python3 - "$step_timeout" <<'PY'
import sys, time
import dbus
deadline = time.monotonic() + float(sys.argv[1])
bus = dbus.SystemBus()
while time.monotonic() < deadline:
    if bus.name_has_owner('org.freedesktop.NetworkManager'):
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}
