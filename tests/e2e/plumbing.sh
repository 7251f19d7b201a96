#!/bin/bash
# plumbing.sh: tests the e2e namespace plumbing itself (tests/e2e/lib.sh), without sonota-c
# or devsim: namespaces and veth, the hook moving addresses, traffic between the namespaces,
# and that nothing is left behind when a driver ends normally, on SIGTERM, on its own time
# bound, on kill -9 of the driver alone, or on SIGKILL of its whole process group (what meson
# does on a test timeout). Also the sweep of stale namespaces of our prefix.
#
# Usage: plumbing.sh            (the test; exit 0 pass, 1 fail, 77 skip)
#        plumbing.sh --child MODE READYFILE   (internal: a driver to be killed)
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# meson itself runs on python3, so it is there; prefer the system one over shims.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# ---- the child driver -----------------------------------------------------------------------
if [ "${1:-}" = --child ]; then
	mode="$2" ready="$3"
	# errexit: a driver with set -e, as scripts/demo.sh is; its status must survive the trap
	[ "$mode" = errexit ] && set -e
	E2E_LOGDIR='' e2e_init "plumbing-child-$mode"
	e2e_netns_setup
	# Something long-running in each namespace, as sonota-c and devsim would be.
	e2e_start srv-sleeper "$NS_SRV" 300 -- sleep 300
	e2e_start dev-sleeper "$NS_DEV" 300 -- sleep 300
	if [ "$mode" = timeout ]; then
		e2e_start short "$NS_DEV" 1 -- sleep 300
		e2e_wait short
		echo "short-rc $E2E_RC" >>"$ready.info"
	fi
	sleep 0.3
	{
		echo "srv $NS_SRV"
		echo "dev $NS_DEV"
		echo "work $E2E_WORK"
		for p in $(ip netns pids "$NS_SRV") $(ip netns pids "$NS_DEV"); do
			echo "pid $p"
		done
	} >>"$ready.info"
	echo ready >"$ready"
	case "$mode" in
	normal | timeout | errexit) exit 0 ;;
	fail) e2e_fail "deliberate failure (plumbing test)" 2>/dev/null ;;
	*) while :; do sleep 1; done ;;
	esac
	exit 0
fi

# ---- the test -------------------------------------------------------------------------------
e2e_require_root
e2e_init plumbing

checks=0
ok()
{
	checks=$((checks + 1))
	e2e_log "ok: $*"
}

# addrs NS: the IPv4 addresses (with prefix) on our veth in NS, sorted, space-separated.
addrs()
{
	e2e_ip "$1" -4 -o addr show dev "$E2E_IF" | awk '{print $4}' | sort | tr '\n' ' ' |
		sed 's/ $//'
}

expect_addrs()
{
	local ns="$1" want="$2" what="$3" got
	got=$(addrs "$ns")
	[ "$got" = "$want" ] || e2e_fail "$what: $ns has '$got', wanted '$want'"
	ok "$what: ${ns##*-} has '${got:-nothing}'"
}

root_clean()
{
	e2e_root_clean "${2:-}" || e2e_fail "root namespace not clean ($1)"
	ok "root namespace clean ($1)"
}

# TCP from FROM-namespace to ADDR:PORT served in TO-namespace (all inside our namespaces).
tcp_ok()
{
	local from="$1" to="$2" addr="$3" port="$4" what="$5" out
	e2e_start "listen-$port" "$to" 10 -- "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(8)
print("listening", flush=True)
c, a = s.accept(); c.sendall(b"hello " + a[0].encode() + b"\n"); c.close()' "$addr" "$port"
	e2e_wait_log "$E2E_LOGS/listen-$port.log" listening 5 || e2e_fail "$what: listener did not start"
	out=$(ip netns exec "$from" timeout 5 bash -c \
		"exec 3<>/dev/tcp/$addr/$port && head -n1 <&3" 2>&1)
	e2e_wait "listen-$port"
	case "$out" in
	"hello "*) ok "$what: TCP ${from##*-} -> $addr:$port ($out)" ;;
	*) e2e_fail "$what: no TCP from ${from##*-} to $addr:$port: $out" ;;
	esac
}

root_clean "before setup"
e2e_netns_setup
ip netns list | grep -q "^$NS_SRV\\b" || e2e_fail "$NS_SRV missing"
ip netns list | grep -q "^$NS_DEV\\b" || e2e_fail "$NS_DEV missing"
ok "namespaces $NS_SRV and $NS_DEV exist"
root_clean "after setup"
expect_addrs "$NS_SRV" "$E2E_HOME_SRV" "start: laptop at home"
expect_addrs "$NS_DEV" "" "start: device off"

hook="$E2E_HOOK"
# Run the hook the way devsim does: inside DEV.
fire()
{
	ip netns exec "$NS_DEV" "$hook" "$1" "$2" || e2e_fail "hook $1 $2 failed"
}

fire ap-up 10000aaaaa
expect_addrs "$NS_DEV" "10.10.7.1/24" "ap-up"
expect_addrs "$NS_SRV" "10.10.7.2/24" "ap-up"
root_clean "ap-up"
tcp_ok "$NS_SRV" "$NS_DEV" 10.10.7.1 8000 "ap-up: laptop reaches the device AP"

fire ap-down 10000aaaaa
expect_addrs "$NS_DEV" "" "ap-down"
expect_addrs "$NS_SRV" "$E2E_HOME_SRV" "ap-down"

fire sta-up 10000aaaaa
fire sta-up 10000bbbbb
a=$(e2e_dev_home_addr 10000aaaaa)
b=$(e2e_dev_home_addr 10000bbbbb)
[ "$a" = "$E2E_HOME_NET.$E2E_HOME_DEV_BASE" ] || e2e_fail "first device got $a"
[ "$b" = "$E2E_HOME_NET.$((E2E_HOME_DEV_BASE + 1))" ] || e2e_fail "second device got $b"
expect_addrs "$NS_DEV" "$a/24 $b/24" "sta-up x2"
root_clean "sta-up"
tcp_ok "$NS_DEV" "$NS_SRV" "${E2E_HOME_SRV%/*}" 8443 "sta-up: device reaches the laptop at home"
tcp_ok "$NS_SRV" "$NS_DEV" "$b" 8001 "sta-up: laptop reaches the second device"

# The first device's address is the primary one of the /24: removing it must not take the
# second device's address with it.
fire sta-down 10000aaaaa
expect_addrs "$NS_DEV" "$b/24" "sta-down of the first device"
tcp_ok "$NS_SRV" "$NS_DEV" "$b" 8002 "sta-down of another: laptop still reaches the second device"
fire sta-up 10000aaaaa
expect_addrs "$NS_DEV" "$a/24 $b/24" "sta-up again keeps the device's address"
fire sta-down 10000bbbbb
expect_addrs "$NS_DEV" "$a/24" "sta-down of the second device"
fire sta-down 10000aaaaa
expect_addrs "$NS_DEV" "" "sta-down of both"

fire finalstage-up 10000aaaaa
expect_addrs "$NS_DEV" "192.168.4.1/24" "finalstage-up"
expect_addrs "$NS_SRV" "192.168.4.2/24" "finalstage-up"
root_clean "finalstage-up"
tcp_ok "$NS_DEV" "$NS_SRV" 192.168.4.2 8080 "finalstage-up: E2A reaches 192.168.4.2:8080"
# Idempotent (E2A ROM1 -> ROM2 reboot brings the AP down and up again).
fire finalstage-down 10000aaaaa
fire finalstage-up 10000aaaaa
expect_addrs "$NS_SRV" "192.168.4.2/24" "finalstage-up again"
fire finalstage-down 10000aaaaa
expect_addrs "$NS_DEV" "" "finalstage-down"
expect_addrs "$NS_SRV" "$E2E_HOME_SRV" "finalstage-down"

ip netns exec "$NS_DEV" "$hook" some-new-event 10000aaaaa || e2e_fail "unknown event not accepted"
n=$(grep -c ' ok$' "$E2E_LOGS/hook.log")
[ "$n" = 12 ] || e2e_fail "hook.log has $n ok lines, wanted 12"
grep -q 'some-new-event 10000aaaaa ignored' "$E2E_LOGS/hook.log" || e2e_fail "hook.log lacks ignored"
! grep -q FAIL "$E2E_LOGS/hook.log" || e2e_fail "hook.log has a FAIL"
ok "hook.log records every event"

# The guard refuses namespaces that are not ours.
if e2e_ip "$E2E_PREFIX-1-srv" link show 2>/dev/null; then
	e2e_fail "e2e_ip accepted a foreign namespace"
fi
if e2e_ip "" link show 2>/dev/null; then
	e2e_fail "e2e_ip accepted an empty namespace name"
fi
ok "e2e_ip refuses namespaces that are not this run's"

e2e_netns_cleanup
ip netns list | grep -q "^$E2E_PREFIX-$E2E_ID-" && e2e_fail "cleanup left namespaces"
root_clean "after cleanup" --final

# ---- children: every way a driver can end leaves nothing behind ------------------------------
# child_run MODE HOW: start a child driver in its own process group, end it by HOW
# (none, term, kill9, killpg), then check that its namespaces and processes are gone.
child_run()
{
	local mode="$1" how="$2" ready="$E2E_WORK/ready-$1-$2" cpid i srv dev work pids p
	setsid "$BASH" "$HERE/plumbing.sh" --child "$mode" "$ready" \
		</dev/null >"$E2E_LOGS/child-$mode-$how.log" 2>&1 &
	cpid=$!
	for ((i = 0; i < 150; i++)); do
		[ -e "$ready" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$ready" ] || e2e_fail "child $mode/$how never got ready"
	srv=$(awk '$1 == "srv" {print $2}' "$ready.info")
	dev=$(awk '$1 == "dev" {print $2}' "$ready.info")
	work=$(awk '$1 == "work" {print $2}' "$ready.info")
	pids=$(awk '$1 == "pid" {print $2}' "$ready.info")
	[ -n "$pids" ] || e2e_fail "child $mode/$how: no processes ran in its namespaces"
	case "$how" in
	none) ;;
	term) kill -TERM "$cpid" ;;
	kill9) kill -KILL "$cpid" ;;           # the driver alone; its children live on
	killpg) kill -KILL -- "-$cpid" ;;      # the whole group, as meson does on timeout
	esac
	wait "$cpid" 2>/dev/null
	local crc=$?
	case "$mode/$how" in
	normal/none | timeout/none | errexit/none)
		[ "$crc" = 0 ] || e2e_fail "child $mode/$how: a driver that exits 0 ended with $crc" ;;
	fail/none)
		[ "$crc" = 1 ] || e2e_fail "child $mode/$how: a failing driver ended with $crc, not 1" ;;
	esac
	# The guardian polls every 0.3 s and then needs ~1 s to kill and delete.
	for ((i = 0; i < 50; i++)); do
		ip netns list | grep -Eq "^($srv|$dev)\\b" || break
		sleep 0.1
	done
	if ip netns list | grep -Eq "^($srv|$dev)\\b"; then
		e2e_fail "child $mode/$how: namespaces left: $(ip netns list | grep "$E2E_PREFIX")"
	fi
	for ((i = 0; i < 30; i++)); do
		local alive=''
		for p in $pids; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	if [ -n "$alive" ]; then
		# Ours (they ran in the child's namespaces): do not leave them to the next test.
		# shellcheck disable=SC2086
		kill -KILL $alive 2>/dev/null
		e2e_fail "child $mode/$how: processes left:$alive"
	fi
	# The trap, or after kill -9 the guardian, removes the work dir.
	for ((i = 0; i < 30; i++)); do
		[ -e "$work" ] || break
		sleep 0.1
	done
	if [ -e "$work" ]; then
		case "$work" in
		/tmp/"$E2E_PREFIX"-*) rm -rf "$work" ;;
		esac
		e2e_fail "child $mode/$how: work dir $work left"
	fi
	root_clean "child $mode/$how" --final
	ok "child $mode/$how: namespaces, processes and addresses gone"
}

child_run normal none
child_run errexit none
child_run fail none
child_run timeout none
grep -q '^short-rc 124$' "$E2E_WORK/ready-timeout-none.info" ||
	e2e_fail "a process over its time bound did not end with 124: $(cat "$E2E_WORK/ready-timeout-none.info")"
ok "e2e_start bounds a process in time (exit 124)"
child_run hang term
child_run hang kill9
child_run hang killpg

# ---- stale sweep ------------------------------------------------------------------------------
# A namespace of our prefix named after a dead driver, with a process in it.
( exit 0 ) &
dead=$!
wait "$dead"
stale="$E2E_PREFIX-$dead-srv"
kill -0 "$dead" 2>/dev/null && e2e_fail "pid $dead is alive again; rerun"
ip netns add "$stale" || e2e_fail "cannot create $stale"
ip netns exec "$stale" sleep 300 </dev/null >/dev/null 2>&1 &
sleeper=$!
sleep 0.2
e2e_sweep_stale 2>/dev/null
if ip netns list | grep -q "^$stale\\b"; then
	ip netns pids "$stale" | xargs -r kill -KILL
	ip netns del "$stale"
	e2e_fail "stale namespace $stale not swept"
fi
wait "$sleeper" 2>/dev/null
kill -0 "$sleeper" 2>/dev/null && { kill -KILL "$sleeper"; e2e_fail "process in stale ns survived"; }
ok "stale namespace of a dead driver swept, its process killed"
# A live driver's namespaces are never swept: ours are alive now.
e2e_netns_setup
e2e_sweep_stale 2>/dev/null
ip netns list | grep -q "^$NS_SRV\\b" || e2e_fail "the sweep deleted a live run's namespace"
ok "the sweep leaves a live run's namespaces alone"
e2e_netns_cleanup
root_clean "end" --final

e2e_pass "$checks checks"
