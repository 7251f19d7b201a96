#!/bin/bash
# lib.sh: network-namespace plumbing for the sonota-c end-to-end tests (and the demo).
#
# Source it from bash:  . tests/e2e/lib.sh
#
# Topology (see docs/testing.md): two network namespaces made by the test itself,
#   SRV  (the user's laptop, runs sonota-c)   veth "e2e0"
#   DEV  (the Sonoff, runs devsim)            veth "e2e0"
# joined by one veth pair that is created inside SRV and moved straight into DEV, so it never
# exists in the root namespace. The addresses of the plan below (10.10.7.x, 192.168.4.x, the
# home subnet) are only ever added with `ip -n <our namespace>`; nothing here adds an address
# to the root namespace or sends traffic from it. e2e_root_clean checks that.
#
# The user's WiFi hops are played by a generated hook script (e2e_hook_write) that devsim calls
# as `HOOK <event> <deviceid>`; it moves the addresses between the namespaces. In hands-free
# runs (hands-lib.sh) it moves only DEV's and tells the NM mock instead, and sonota-c hops.
#
# Cleanup: e2e_init installs a trap on EXIT/INT/TERM/HUP that kills every process left in our
# namespaces and deletes them, and starts a guardian in its own session that does the same if
# the driver dies without running its trap (kill -9, or meson's SIGKILL of the process group).
# Every run also sweeps namespaces of our prefix whose owning driver is gone.
#
# Public functions (all prefixed e2e_, plus the aliases the demo wants):
#   e2e_require_root            exit 77 (meson: skipped) with a reason unless we may make netns
#   e2e_init NAME               unique names, work dir, traps, guardian, stale sweep
#   e2e_netns_setup             create SRV and DEV, veth pair, lo up, SRV home address
#   e2e_netns_cleanup           kill our processes in the namespaces, delete them (idempotent)
#   e2e_sweep_stale             delete namespaces of our prefix whose driver is dead
#   e2e_hook_write FILE         write the address-moving hook script, print nothing
#   e2e_dev_home_addr ID        the home address (no prefix length) the hook gives device ID
#   e2e_start NAME NS SECS -- CMD...   start CMD in NS, bounded by SECS, log to $E2E_LOGS/NAME.log
#   e2e_wait NAME               wait for a started process; exit status in E2E_RC
#   e2e_stop NAME [SECS]        give it SECS to exit, then SIGTERM/SIGKILL; status in E2E_RC
#   e2e_root_clean [--final]    fail if root has a test address/veth (--final: or our netns)
#   e2e_fail MSG / e2e_pass MSG, e2e_expect_exit, e2e_expect_log, e2e_expect_nolog, e2e_tails
# Aliases: netns_setup, netns_cleanup, run_with_timeout (= e2e_start).

# ---- constants of the address plan ---------------------------------------------------------
E2E_PREFIX=sonota-e2e			# every namespace we make is $E2E_PREFIX-<driver pid>-<role>
E2E_IF=e2e0				# the veth end's name in each namespace
E2E_AP_DEV=10.10.7.1/24			# the device's pairing AP (PROTOCOL.md §1.2)
E2E_AP_SRV=10.10.7.2/24			# the laptop on ITEAD-<id>
E2E_FS_DEV=192.168.4.1/24		# E2A's FinalStage softAP
E2E_FS_SRV=192.168.4.2/24		# the laptop on FinalStage (E2A only talks to .2)
E2E_HOME_NET=192.168.77			# the user's home LAN, a /24
E2E_HOME_SRV=$E2E_HOME_NET.5/24		# the laptop at home (--serving-host)
E2E_HOME_DEV_BASE=50			# device n (0, 1, ...) gets $E2E_HOME_NET.(50+n)
E2E_HOME_DEV_MAX=100			# devices per run; keeps host numbers below .150
# Patterns that must never appear in the root namespace.
E2E_ADDR_PATTERNS='10\.10\.7\.|192\.168\.4\.|192\.168\.77\.'

e2e_log()
{
	printf 'e2e[%s]: %s\n' "${E2E_NAME:-?}" "$*" >&2
}

# Exit 77 (meson's "skipped") with the reason on stderr unless network namespaces can be made.
e2e_require_root()
{
	if [ "$(id -u)" != 0 ]; then
		echo "e2e: SKIP: needs root (creates network namespaces with 'ip netns add'); run" \
			"'meson test --suite e2e' as root" >&2
		exit 77
	fi
	if ! command -v ip >/dev/null 2>&1; then
		echo "e2e: SKIP: the 'ip' command (iproute2) is not installed" >&2
		exit 77
	fi
	if ! command -v flock >/dev/null 2>&1; then
		echo "e2e: SKIP: the 'flock' command (util-linux) is not installed" >&2
		exit 77
	fi
	# A container may be root without CAP_SYS_ADMIN/CAP_NET_ADMIN: probe once.
	local probe="$E2E_PREFIX-$$-probe"
	if ! ip netns add "$probe" 2>/dev/null; then
		echo "e2e: SKIP: cannot create a network namespace here (no CAP_SYS_ADMIN?)" >&2
		exit 77
	fi
	ip netns del "$probe" 2>/dev/null
}

# Refuse to operate on anything that is not one of this run's namespaces.
_e2e_ours()
{
	case "$1" in
	"$E2E_PREFIX-$E2E_ID-"?*) return 0 ;;
	esac
	echo "e2e: internal error: refusing to touch namespace '$1' (not ours)" >&2
	return 1
}

# ip -n NS ..., only for our namespaces. Never call plain `ip addr add`.
e2e_ip()
{
	local ns="$1"
	shift
	_e2e_ours "$ns" || return 1
	ip -n "$ns" "$@"
}

# Kill every process whose network namespace is NS (all of them were started by this test,
# since nobody else knows the namespace), then delete NS. Silent if NS does not exist.
_e2e_ns_destroy()
{
	local ns="$1" pids i
	ip netns list 2>/dev/null | grep -q "^$ns\\b" || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null
		for i in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -z "$pids" ] && break
			sleep 0.1
		done
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	return 0
}

# Delete namespaces of our prefix whose driver (the pid in the name) no longer runs.
e2e_sweep_stale()
{
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in
		"$E2E_PREFIX"-*-*) ;;
		*) continue ;;
		esac
		pid=${ns#"$E2E_PREFIX"-}
		pid=${pid%%-*}
		case "$pid" in
		'' | *[!0-9]*) continue ;;
		esac
		if ! kill -0 "$pid" 2>/dev/null; then
			e2e_log "sweeping stale namespace $ns (driver $pid is gone)"
			_e2e_ns_destroy "$ns"
		fi
	done
}

# Guardian: runs in its own session, so neither the driver's death nor a SIGKILL of the
# driver's process group reaches it. Waits for the driver, then destroys its namespaces
# and removes its work dir (unless E2E_KEEP=1).
# Usage: _e2e_guardian PARENT_PID WORK_DIR NAMESPACE...
_e2e_guardian()
{
	local parent="$1" work="$2"
	shift 2
	# SIGTERM (from the driver's own exit path) ends it; a terminal's INT/HUP does not.
	trap '' INT HUP
	while kill -0 "$parent" 2>/dev/null; do
		sleep 0.3
	done
	local ns
	for ns in "$@"; do
		_e2e_ns_destroy "$ns"
	done
	if [ "${E2E_KEEP:-0}" != 1 ]; then
		case "$work" in
		/tmp/"$E2E_PREFIX"-"$parent".*) rm -rf "$work" ;;
		esac
	fi
}

# Unique names, work dir, log dir, traps, guardian, stale sweep. NAME names the scenario.
# Sets: E2E_NAME E2E_ID NS_SRV NS_DEV E2E_WORK E2E_LOGS E2E_HOOK
e2e_init()
{
	E2E_NAME="$1"
	E2E_ID=$$
	NS_SRV="$E2E_PREFIX-$E2E_ID-srv"
	NS_DEV="$E2E_PREFIX-$E2E_ID-dev"
	E2E_WORK=$(mktemp -d "/tmp/$E2E_PREFIX-$E2E_ID.XXXXXX") || exit 1
	# Logs survive the run when E2E_LOGDIR is given (meson passes the build dir).
	if [ -n "${E2E_LOGDIR:-}" ]; then
		E2E_LOGS="$E2E_LOGDIR/$E2E_NAME.logs"
		rm -rf "$E2E_LOGS"
		mkdir -p "$E2E_LOGS" || exit 1
	else
		E2E_LOGS="$E2E_WORK/logs"
		mkdir -p "$E2E_LOGS"
	fi
	E2E_HOOK="$E2E_WORK/hook.sh"
	declare -gA E2E_PID=()
	trap '_e2e_on_exit' EXIT
	trap '_e2e_on_signal INT' INT
	trap '_e2e_on_signal TERM' TERM
	trap '_e2e_on_signal HUP' HUP
	e2e_sweep_stale
	# setsid without fork: a background child of a non-interactive shell is no group
	# leader, so $! is the guardian itself.
	setsid bash -c '. "$1"; shift; _e2e_guardian "$@"' e2e-guardian "${BASH_SOURCE[0]}" \
		"$E2E_ID" "$E2E_WORK" "$NS_SRV" "$NS_DEV" </dev/null >/dev/null 2>&1 &
	E2E_GUARDIAN=$!
}

_e2e_on_signal()
{
	e2e_log "caught SIG$1, cleaning up"
	exit 130
}

_e2e_on_exit()
{
	local rc=$?
	# A caller with set -e (scripts/demo.sh) must not have its cleanup cut short, nor its
	# exit status replaced, by a kill or wait that fails here (the guardian's wait: 137).
	set +e
	trap '' INT TERM HUP
	e2e_netns_cleanup
	if [ -n "${E2E_GUARDIAN:-}" ]; then
		kill -KILL "$E2E_GUARDIAN" 2>/dev/null
		wait "$E2E_GUARDIAN" 2>/dev/null
	fi
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		e2e_log "E2E_KEEP=1: work dir kept in $E2E_WORK"
	else
		[ -n "${E2E_WORK:-}" ] && rm -rf "$E2E_WORK"
	fi
	exit "$rc"
}

# Kill what we started, then every process left in our namespaces, then delete them.
e2e_netns_cleanup()
{
	local name
	for name in "${!E2E_PID[@]}"; do
		kill -TERM "${E2E_PID[$name]}" 2>/dev/null
	done
	[ -n "${NS_DEV:-}" ] && _e2e_ns_destroy "$NS_DEV"
	[ -n "${NS_SRV:-}" ] && _e2e_ns_destroy "$NS_SRV"
	for name in "${!E2E_PID[@]}"; do
		kill -KILL "${E2E_PID[$name]}" 2>/dev/null
		wait "${E2E_PID[$name]}" 2>/dev/null
		unset "E2E_PID[$name]"
	done
	return 0
}

# Create both namespaces, the veth pair (created inside SRV, its peer moved into DEV at
# creation), bring lo and the veth up, give SRV its home address (the laptop starts at home).
e2e_netns_setup()
{
	ip netns add "$NS_SRV" || e2e_fail "ip netns add $NS_SRV failed"
	ip netns add "$NS_DEV" || e2e_fail "ip netns add $NS_DEV failed"
	e2e_ip "$NS_SRV" link add "$E2E_IF" type veth peer name "$E2E_IF" netns "$NS_DEV" ||
		e2e_fail "cannot create the veth pair"
	local ns
	for ns in "$NS_SRV" "$NS_DEV"; do
		# No IPv6 noise (DAD, router solicitations) in the logs; lo and veth up.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
		# Several devices share DEV's veth with addresses of one /24. Without this,
		# deleting the first (primary) address silently deletes all the others.
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 \
			"net.ipv4.conf.$E2E_IF.promote_secondaries=1" ||
			e2e_fail "cannot set promote_secondaries in $ns"
		e2e_ip "$ns" link set lo up || e2e_fail "lo up in $ns failed"
		e2e_ip "$ns" link set "$E2E_IF" up || e2e_fail "veth up in $ns failed"
	done
	e2e_ip "$NS_SRV" addr add "$E2E_HOME_SRV" dev "$E2E_IF" ||
		e2e_fail "cannot give SRV its home address"
	e2e_hook_write "$E2E_HOOK"
}

# The home address of device ID (no prefix length). Allocates the next free one on first use;
# the hook script and the driver share the map file, under a lock.
e2e_dev_home_addr()
{
	local id="$1" map="$E2E_WORK/home-map"
	(
		flock 9
		local ip n
		ip=$(awk -v id="$id" '$1 == id {print $2}' "$map" 2>/dev/null)
		if [ -z "$ip" ]; then
			n=0
			[ -f "$map" ] && n=$(wc -l <"$map")
			[ "$n" -lt "$E2E_HOME_DEV_MAX" ] || exit 1
			ip="$E2E_HOME_NET.$((E2E_HOME_DEV_BASE + n))"
			echo "$id $ip" >>"$map"
		fi
		echo "$ip"
	) 9>>"$E2E_WORK/home-map.lock"
}

# Write the hook devsim calls as `FILE <event> <deviceid>`. Every event is logged to
# $E2E_LOGS/hook.log as "<event> <deviceid> ok|FAIL"; the driver asserts on that file.
e2e_hook_write()
{
	local file="$1"
	cat >"$file" <<EOF
#!/bin/bash
# Generated by tests/e2e/lib.sh for run $E2E_ID: plays the user's WiFi hops by moving
# addresses between our two namespaces. Usage: $file <event> <deviceid>
E2E_LIB='${BASH_SOURCE[0]}'
E2E_ID='$E2E_ID'
E2E_NAME='$E2E_NAME'
E2E_WORK='$E2E_WORK'
E2E_LOGS='$E2E_LOGS'
NS_SRV='$NS_SRV'
NS_DEV='$NS_DEV'
. "\$E2E_LIB"
_e2e_hook "\$@"
EOF
	chmod 755 "$file"
}

# Body of the hook (runs inside DEV as a child of devsim; only uses ip -n on our namespaces).
_e2e_hook()
{
	local ev="${1:-}" id="${2:-}" rc=0 home nm=false
	# E2A's question before each probe (devsim --hook): is the laptop on this device's
	# FinalStage? Exit 0 yes, 1 no. With manual hops there is one device: yes.
	if [ "$ev" = final-assoc ]; then
		[ -e "$E2E_WORK/nm/on" ] && [ ! -e "$E2E_WORK/nm/manual" ] || return 0
		declare -F e2e_dev_bssid >/dev/null || . "$(dirname "$E2E_LIB")/hands-lib.sh"
		[ "$(cat "$E2E_WORK/nm/assoc" 2>/dev/null)" = "$(e2e_dev_bssid "$id")" ]
		return
	fi
	exec 8>>"$E2E_WORK/hook.lock"
	flock 8
	# Hands-free runs (hands-lib.sh, e2e_nm_start): the SRV side is not played here; the NM
	# mock's radio sees the device's access points come and go instead, and sonota-c hops.
	if [ -e "$E2E_WORK/nm/on" ]; then
		declare -F _e2e_nm_on >/dev/null || . "$(dirname "$E2E_LIB")/hands-lib.sh"
		_e2e_nm_on && nm=true
	fi
	case "$ev" in
	ap-up)
		# The device raises ITEAD-<id>; the laptop (one WiFi) leaves home and joins it.
		e2e_ip "$NS_DEV" addr replace "$E2E_AP_DEV" dev "$E2E_IF" || rc=1
		if $nm; then
			_e2e_nm_event "$ev" "$id" || rc=1
		else
			e2e_ip "$NS_SRV" addr del "$E2E_HOME_SRV" dev "$E2E_IF" 2>/dev/null
			e2e_ip "$NS_SRV" addr replace "$E2E_AP_SRV" dev "$E2E_IF" || rc=1
		fi
		;;
	ap-down)
		e2e_ip "$NS_DEV" addr del "$E2E_AP_DEV" dev "$E2E_IF" 2>/dev/null
		if $nm; then
			_e2e_nm_event "$ev" "$id" || rc=1
		else
			e2e_ip "$NS_SRV" addr del "$E2E_AP_SRV" dev "$E2E_IF" 2>/dev/null
			e2e_ip "$NS_SRV" addr replace "$E2E_HOME_SRV" dev "$E2E_IF" || rc=1
		fi
		;;
	sta-up)
		home=$(e2e_dev_home_addr "$id") || rc=1
		[ -n "$home" ] && { e2e_ip "$NS_DEV" addr replace "$home/24" dev "$E2E_IF" || rc=1; }
		;;
	sta-down)
		home=$(e2e_dev_home_addr "$id") || rc=1
		[ -n "$home" ] && e2e_ip "$NS_DEV" addr del "$home/24" dev "$E2E_IF" 2>/dev/null
		;;
	finalstage-up)
		# E2A raises the open FinalStage AP; the laptop leaves home and joins it.
		e2e_ip "$NS_DEV" addr replace "$E2E_FS_DEV" dev "$E2E_IF" || rc=1
		: >"$E2E_WORK/fs-up-$id"
		if $nm; then
			_e2e_nm_event "$ev" "$id" || rc=1
		else
			e2e_ip "$NS_SRV" addr del "$E2E_HOME_SRV" dev "$E2E_IF" 2>/dev/null
			e2e_ip "$NS_SRV" addr replace "$E2E_FS_SRV" dev "$E2E_IF" || rc=1
		fi
		;;
	finalstage-down)
		# several devices' FinalStage may be up at once (--all): the shared address
		# goes with the last of them
		rm -f "$E2E_WORK/fs-up-$id"
		compgen -G "$E2E_WORK/fs-up-*" >/dev/null ||
			e2e_ip "$NS_DEV" addr del "$E2E_FS_DEV" dev "$E2E_IF" 2>/dev/null
		# With the flag file the laptop has not noticed yet that FinalStage is gone and
		# keeps 192.168.4.2 (exercises sonota-c's --done-timeout).
		if $nm; then
			_e2e_nm_event "$ev" "$id" || rc=1
		elif [ ! -e "$E2E_WORK/srv-keeps-finalstage" ]; then
			e2e_ip "$NS_SRV" addr del "$E2E_FS_SRV" dev "$E2E_IF" 2>/dev/null
			e2e_ip "$NS_SRV" addr replace "$E2E_HOME_SRV" dev "$E2E_IF" || rc=1
		fi
		;;
	*)
		# Unknown events are logged and accepted: a newer devsim may report more.
		echo "$(date +%T.%N | cut -c1-12) $ev $id ignored" >>"$E2E_LOGS/hook.log"
		return 0
		;;
	esac
	if [ "$rc" = 0 ]; then
		echo "$(date +%T.%N | cut -c1-12) $ev $id ok" >>"$E2E_LOGS/hook.log"
	else
		echo "$(date +%T.%N | cut -c1-12) $ev $id FAIL" >>"$E2E_LOGS/hook.log"
	fi
	return "$rc"
}

# Start CMD inside namespace NS (or "root" for no namespace: only for commands that touch no
# network, e.g. mkimage), bounded by SECS (SIGTERM, then SIGKILL 3 s later); stdout+stderr go
# to $E2E_LOGS/NAME.log. `timeout --foreground` keeps it in our process group, so a SIGKILL of
# the group by meson reaches it too.
e2e_start()
{
	local name="$1" ns="$2" secs="$3"
	shift 3
	[ "${1:-}" = "--" ] && shift
	local log="$E2E_LOGS/$name.log"
	if [ "$ns" = root ]; then
		timeout --foreground -k 3 "$secs" "$@" >"$log" 2>&1 </dev/null &
	else
		_e2e_ours "$ns" || return 1
		timeout --foreground -k 3 "$secs" ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	fi
	E2E_PID[$name]=$!
}

# Wait for NAME started by e2e_start; its exit status goes to E2E_RC (124/137: our time
# bound hit) and is returned. Not in a $(...) subshell: only this shell can wait for it.
e2e_wait()
{
	local name="$1"
	if [ -z "${E2E_PID[$name]:-}" ]; then
		E2E_RC=255
		return 255
	fi
	wait "${E2E_PID[$name]}"
	E2E_RC=$?
	unset "E2E_PID[$name]"
	return "$E2E_RC"
}

# True while NAME runs.
e2e_running()
{
	[ -n "${E2E_PID[$1]:-}" ] && kill -0 "${E2E_PID[$1]}" 2>/dev/null
}

# Wait up to SECS for NAME to exit by itself; SIGTERM it (SIGKILL 3 s later) if not.
# Exit status in E2E_RC, as e2e_wait; E2E_SIGNALLED=1 when it had to be signalled.
e2e_stop()
{
	local name="$1" secs="${2:-0}" pid="${E2E_PID[$1]:-}" i
	E2E_SIGNALLED=0
	if [ -z "$pid" ]; then
		E2E_RC=255
		return 255
	fi
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		E2E_SIGNALLED=1
		# The timeout wrapper forwards SIGTERM to the command.
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 40; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	e2e_wait "$name"
}

# Wait until FILE matches the extended regex RE, at most SECS seconds. Returns 0 when it did.
e2e_wait_log()
{
	local file="$1" re="$2" secs="$3" i
	for ((i = 0; i < secs * 10; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Fail unless the root namespace carries none of the plan's addresses and no test veth; with
# --final also unless this run's namespaces are gone. Reads only; sends nothing.
e2e_root_clean()
{
	local bad
	bad=$(ip -4 -br addr show 2>/dev/null | grep -E "$E2E_ADDR_PATTERNS")
	if [ -n "$bad" ]; then
		echo "e2e: ROOT NAMESPACE HAS A TEST ADDRESS: $bad" >&2
		return 1
	fi
	bad=$(ip -br link show 2>/dev/null | grep -E "^${E2E_IF}[@ ]")
	if [ -n "$bad" ]; then
		echo "e2e: root namespace has a test veth: $bad" >&2
		return 1
	fi
	if [ "${1:-}" = --final ] && [ -n "${E2E_ID:-}" ] && ip netns list 2>/dev/null | grep -q "^$E2E_PREFIX-$E2E_ID-"; then
		echo "e2e: namespaces of run $E2E_ID are left over" >&2
		return 1
	fi
	return 0
}

# ---- assertions -------------------------------------------------------------------------------

# Print the last lines of every log of this run (so CI output explains a failure).
e2e_tails()
{
	local f n="${E2E_TAIL_LINES:-40}"
	for f in "$E2E_LOGS"/*.log; do
		[ -e "$f" ] || continue
		echo "----- tail -n $n $f -----" >&2
		tail -n "$n" "$f" >&2
	done
	echo "----- end of logs (kept in $E2E_LOGS) -----" >&2
}

e2e_fail()
{
	echo "e2e[${E2E_NAME:-?}]: FAIL: $*" >&2
	e2e_tails
	exit 1
}

e2e_pass()
{
	echo "e2e[${E2E_NAME:-?}]: PASS${1:+: $*}" >&2
	exit 0
}

# e2e_expect_exit WHAT GOT WANT
e2e_expect_exit()
{
	local what="$1" got="$2" want="$3"
	if [ "$got" != "$want" ]; then
		case "$got" in
		124 | 137) e2e_fail "$what exit status $got (killed by the test's time bound), wanted $want" ;;
		*) e2e_fail "$what exit status $got, wanted $want" ;;
		esac
	fi
	e2e_log "ok: $what exited $got"
}

# e2e_expect_log NAME REGEX [MIN_COUNT]: the log of NAME has >= MIN_COUNT lines matching REGEX.
e2e_expect_log()
{
	local name="$1" re="$2" min="${3:-1}" n
	n=$(grep -Ec -- "$re" "$E2E_LOGS/$name.log" 2>/dev/null)
	n=${n:-0}
	if [ "$n" -lt "$min" ]; then
		e2e_fail "$name.log: wanted >= $min line(s) matching /$re/, found $n"
	fi
	e2e_log "ok: $name.log has $n line(s) matching /$re/"
}

# e2e_expect_log_count NAME REGEX COUNT: exactly COUNT lines match.
e2e_expect_log_count()
{
	local name="$1" re="$2" want="$3" n
	n=$(grep -Ec -- "$re" "$E2E_LOGS/$name.log" 2>/dev/null)
	n=${n:-0}
	[ "$n" = "$want" ] || e2e_fail "$name.log: wanted exactly $want line(s) matching /$re/, found $n"
	e2e_log "ok: $name.log has exactly $n line(s) matching /$re/"
}

# e2e_expect_nolog NAME REGEX: no line of NAME's log matches.
e2e_expect_nolog()
{
	local name="$1" re="$2" hit
	hit=$(grep -Em1 -- "$re" "$E2E_LOGS/$name.log" 2>/dev/null)
	[ -z "$hit" ] || e2e_fail "$name.log: unexpected line matching /$re/: $hit"
	e2e_log "ok: $name.log has no line matching /$re/"
}

# Names the demo (scripts/demo.sh) may prefer.
netns_setup() { e2e_netns_setup "$@"; }
netns_cleanup() { e2e_netns_cleanup "$@"; }
run_with_timeout() { e2e_start "$@"; }
