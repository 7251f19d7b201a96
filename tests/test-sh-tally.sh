#!/bin/sh
# test-sh-tally.sh TEST_SH: scripts/test.sh's judgement of test results, on made-up
# meson logs (bash scripts/test.sh --tally DIR...). A skipped test must fail the run
# and be named; the closing line is "N passed, N failed", then ", N skipped" if any.
set -u
testsh=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0

# log DIR RESULT NAME [RESULT NAME]...: a testlog.json with these results
log() {
	d=$work/$1
	shift
	mkdir -p "$d/meson-logs"
	: >"$d/meson-logs/testlog.json"
	while [ $# -ge 2 ]; do
		printf '{"name": "sonota-c:unit / %s", "result": "%s", "returncode": 0}\n' "$2" "$1" \
			>>"$d/meson-logs/testlog.json"
		shift 2
	done
}

# expect RC LASTLINE STDERR_PATTERN DIR...
expect() {
	want_rc=$1 want_last=$2 want_err=$3
	shift 3
	dirs=
	for d in "$@"; do
		dirs="$dirs $work/$d"
	done
	# shellcheck disable=SC2086
	bash "$testsh" --tally $dirs >"$work/out" 2>"$work/err"
	rc=$?
	last=$(tail -n 1 "$work/out")
	if [ "$rc" != "$want_rc" ] || [ "$last" != "$want_last" ]; then
		echo "FAIL: $*: exit $rc, last line \"$last\"; want exit $want_rc, \"$want_last\"" >&2
		fail=1
	fi
	if [ -n "$want_err" ] && ! grep -q -- "$want_err" "$work/err"; then
		echo "FAIL: $*: stderr lacks \"$want_err\":" >&2
		cat "$work/err" >&2
		fail=1
	fi
}

log good OK util OK config
log skipped OK util SKIP netwatch
log failed FAIL stage TIMEOUT wss OK log
log empty

expect 0 "2 passed, 0 failed" "" good
expect 1 "1 passed, 0 failed, 1 skipped" "SKIPPED: sonota-c:unit / netwatch" skipped
expect 1 "1 passed, 2 failed" "TIMEOUT: sonota-c:unit / wss" failed
expect 1 "4 passed, 2 failed, 1 skipped" "SKIPPED: sonota-c:unit / netwatch" good failed skipped
expect 0 "0 passed, 0 failed" "" empty
expect 1 "0 passed, 1 failed" "testlog.json" missing

[ "$fail" = 0 ] && echo "test.sh tally ok"
exit "$fail"
