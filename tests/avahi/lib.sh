# tests/avahi/lib.sh: a real avahi-daemon inside network namespaces, on a private
# system bus, for the discovery tests (issue 11 §1) and the DIY e2e. Source it:
#
#   . tests/avahi/lib.sh
#   avahi_env_up DIR || exit 1   # DIR: an empty temporary directory of the caller
#   trap avahi_env_down EXIT     # or call avahi_env_down from the caller's own cleanup
#   avahi_in_host CMD...         # CMD runs where avahi-daemon runs ("the laptop")
#   avahi_in_dev CMD...          # CMD runs on the simulated home LAN's device side
#   (to background one and keep its pid, call ip netns exec "$AVAHI_NS_DEV" CMD & directly:
#   $! of a backgrounded shell function is a subshell, not CMD)
#   ip=$(avahi_dev_addr 3)       # one more device address (192.168.178.53) on that side
#
# What it builds, and why nothing of the machine is touched:
#  - two network namespaces, AVAHI_NS_HOST and AVAHI_NS_DEV, joined by a veth "lan0"
#    on a home subnet (AVAHI_SUBNET.0/24: host .2, devices .50+), so mDNS is real
#    multicast between two stacks, never on the machine's interfaces;
#  - a private dbus-daemon (a path socket in DIR; the exported
#    DBUS_SYSTEM_BUS_ADDRESS points at it, never at the machine's bus) whose policy lets
#    root own org.freedesktop.Avahi;
#  - avahi-daemon 0.8 (Debian's, scripts/setup.sh installs it) in AVAHI_NS_HOST, in a
#    mount namespace of its own where /run is a fresh tmpfs and /etc/avahi/services an
#    empty directory (its pid file and socket never reach the machine's /run), with
#    our configuration (IPv4 only, lan0 only, no wide-area, no publishing of
#    services), --no-drop-root --no-chroot --no-rlimits.
# avahi_daemon_stop / avahi_daemon_start stop and restart only that daemon (the GONE
# tests). Every function is bounded (AVAHI_STEP_TIMEOUT seconds).
# Needs root, ip(8), unshare(1), dbus-daemon, dbus-send, avahi-daemon; avahi_env_check
# says which one is missing (exit 77 material for the caller).

AVAHI_STEP_TIMEOUT=${AVAHI_STEP_TIMEOUT:-10} # seconds for the bus or the daemon to come up
AVAHI_SUBNET=${AVAHI_SUBNET:-192.168.178}
AVAHI_HOST_IP=$AVAHI_SUBNET.2
AVAHI_NS_HOST=
AVAHI_NS_DEV=
AVAHI_DIR=
AVAHI_BUS_PID=
AVAHI_DAEMON_PID=

# avahi_env_check: "" and 0 when everything is there, else the missing piece and 1.
avahi_env_check() {
	[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; return 1; }
	local c
	for c in ip unshare dbus-daemon dbus-send avahi-daemon; do
		command -v "$c" >/dev/null || { echo "no $c (scripts/setup.sh installs it)"; return 1; }
	done
	return 0
}

# _avahi_wait SECONDS CMD...: run CMD until it succeeds, at most SECONDS.
_avahi_wait() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

avahi_in_host() { ip netns exec "$AVAHI_NS_HOST" "$@"; }
avahi_in_dev() { ip netns exec "$AVAHI_NS_DEV" "$@"; }

# avahi_dev_addr N: add $AVAHI_SUBNET.(50+N)/24 to the device side; prints it.
avahi_dev_addr() {
	local ip=$AVAHI_SUBNET.$((50 + $1))
	ip -n "$AVAHI_NS_DEV" addr add "$ip/24" dev lan0 || return 1
	echo "$ip"
}

_avahi_owned() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Avahi | grep -q "boolean true"
}

# avahi_daemon_start: start avahi-daemon (log: $AVAHI_DIR/avahi.log) and wait until it
# owns its bus name and has finished starting up.
avahi_daemon_start() {
	: >"$AVAHI_DIR/avahi.log"
	ip netns exec "$AVAHI_NS_HOST" unshare --mount --propagation private sh -c '
		mount -t tmpfs -o mode=0755 sonota-avahi-run /run &&
		mount --bind "$1/services" /etc/avahi/services &&
		exec avahi-daemon -f "$1/avahi.conf" --no-drop-root --no-chroot --no-rlimits \
			--no-proc-title' sh "$AVAHI_DIR" >>"$AVAHI_DIR/avahi.log" 2>&1 &
	AVAHI_DAEMON_PID=$!
	_avahi_wait "$AVAHI_STEP_TIMEOUT" _avahi_owned &&
		_avahi_wait "$AVAHI_STEP_TIMEOUT" grep -q "Server startup complete" \
			"$AVAHI_DIR/avahi.log" || {
		echo "avahi-daemon did not start:"
		cat "$AVAHI_DIR/avahi.log"
		return 1
	}
}

# avahi_daemon_stop: stop it (SIGTERM, then SIGKILL after the step timeout).
avahi_daemon_stop() {
	[ -n "$AVAHI_DAEMON_PID" ] || return 0
	kill "$AVAHI_DAEMON_PID" 2>/dev/null || true
	_avahi_wait "$AVAHI_STEP_TIMEOUT" sh -c "! kill -0 $AVAHI_DAEMON_PID" ||
		kill -9 "$AVAHI_DAEMON_PID" 2>/dev/null || true
	wait "$AVAHI_DAEMON_PID" 2>/dev/null || true
	AVAHI_DAEMON_PID=
}

# avahi_env_up DIR [nodaemon]: namespaces, bus, and (unless "nodaemon") the daemon.
avahi_env_up() {
	AVAHI_DIR=$1
	local tag=$$.$RANDOM
	AVAHI_NS_HOST=sonota-avh-$tag
	AVAHI_NS_DEV=sonota-avd-$tag
	mkdir -p "$AVAHI_DIR/services" || return 1
	cat >"$AVAHI_DIR/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$AVAHI_DIR/bus</listen>
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
	cat >"$AVAHI_DIR/avahi.conf" <<CONF
[server]
host-name=sonota-test-host
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=lan0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
[reflector]
enable-reflector=no
[rlimits]
CONF
	ip netns add "$AVAHI_NS_HOST" && ip netns add "$AVAHI_NS_DEV" || return 1
	ip -n "$AVAHI_NS_HOST" link add lan0 type veth peer name lan0 netns "$AVAHI_NS_DEV" &&
		ip -n "$AVAHI_NS_HOST" addr add "$AVAHI_HOST_IP/24" dev lan0 &&
		ip -n "$AVAHI_NS_HOST" link set lo up && ip -n "$AVAHI_NS_HOST" link set lan0 up &&
		ip -n "$AVAHI_NS_DEV" link set lo up && ip -n "$AVAHI_NS_DEV" link set lan0 up ||
		return 1
	dbus-daemon --config-file="$AVAHI_DIR/bus.conf" --nofork >"$AVAHI_DIR/bus.log" 2>&1 &
	AVAHI_BUS_PID=$!
	_avahi_wait "$AVAHI_STEP_TIMEOUT" test -S "$AVAHI_DIR/bus" || {
		echo "the private bus did not start"
		return 1
	}
	export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$AVAHI_DIR/bus"
	[ "${2:-}" = nodaemon ] || avahi_daemon_start
}

# avahi_env_down: stop the daemon and the bus, delete the namespaces (and with them
# every process still in them is cut off). Safe to call twice and after a partial up.
avahi_env_down() {
	avahi_daemon_stop
	if [ -n "$AVAHI_BUS_PID" ]; then
		kill "$AVAHI_BUS_PID" 2>/dev/null || true
		wait "$AVAHI_BUS_PID" 2>/dev/null || true
		AVAHI_BUS_PID=
	fi
	[ -z "$AVAHI_NS_DEV" ] || ip netns del "$AVAHI_NS_DEV" 2>/dev/null || true
	[ -z "$AVAHI_NS_HOST" ] || ip netns del "$AVAHI_NS_HOST" 2>/dev/null || true
	AVAHI_NS_DEV= AVAHI_NS_HOST=
}
