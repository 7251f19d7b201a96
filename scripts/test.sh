#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), build and pass every test, as root
# on a fresh Debian 12 machine. Four builds, each running its suites:
#   build-test        gcc:               unit, fuzz (corpus replay), e2e
#   build-test-nonm   gcc, -Dnm=disabled: unit (the build without NetworkManager)
#   build-test-fuzz   clang + libFuzzer: fuzz (time-bounded fuzzing)
#   build-test-asan   gcc, ASan+UBSan:   unit, fuzz (replay), e2e
# The gcc builds have -Dtest_faults=true (the e2e negative controls need the fault
# hook); the clang build has the default options, and its linkage test checks that a
# default binary carries no fault hook.
# Any failure stops the script with a non-zero status. So does a SKIPPED test: every
# test must run here (root, every tool installed); the skipped ones are named.
# The last line is always "N passed, N failed", then ", N skipped" when any was.
#
# Environment: SONOTA_TEST_FUZZ_SECONDS (default 20), SONOTA_TEST_SKIP_ASAN=1 and
# SONOTA_TEST_SKIP_FUZZ=1 to shorten a local run (CI runs everything).
#
# bash scripts/test.sh --tally BUILDDIR...: only count the results of meson test runs
# already made (BUILDDIR/meson-logs/testlog.json) and judge them as above; exits 0 or 1.
# tests/test-sh-tally.sh tests this on made-up logs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
fuzz_secs=${SONOTA_TEST_FUZZ_SECONDS:-20}

total_ok=0
total_fail=0
total_skip=0
closing_line() {
	local line="$total_ok passed, $total_fail failed"
	[ "$total_skip" -eq 0 ] || line="$line, $total_skip skipped"
	echo "$line"
}

# tally BUILDDIR: add the last meson test run's results to the totals (every result
# but OK and SKIP counts as failed: FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS,
# EXPECTEDFAIL is not used here) and name the tests that were skipped or failed.
tally() {
	local dir=$1 counts
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except OSError as e:
    print(f"test.sh: {e}", file=sys.stderr)
    lines = []
    fail = 1
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    if t["result"] == "OK":
        ok += 1
    elif t["result"] == "SKIP":
        skip += 1
        print(f"test.sh: SKIPPED: {t['name']}", file=sys.stderr)
    else:
        fail += 1
        print(f"test.sh: {t['result']}: {t['name']}", file=sys.stderr)
print(ok, fail, skip)
PY
) || counts="0 1 0"
	set -- $counts
	total_ok=$((total_ok + $1))
	total_fail=$((total_fail + $2))
	total_skip=$((total_skip + $3))
}

# verdict: exit 1 when anything failed or was skipped, after the closing line.
verdict() {
	if [ "$total_fail" -gt 0 ] || [ "$total_skip" -gt 0 ]; then
		[ "$total_skip" -eq 0 ] ||
			echo "test.sh: $total_skip test(s) skipped (named above): every test must run" >&2
		closing_line
		exit 1
	fi
}

if [ "${1:-}" = --tally ]; then
	shift
	for d in "$@"; do
		tally "$d"
	done
	verdict
	closing_line
	exit 0
fi

cd "$top"
bash scripts/setup.sh

run_suites() { # run_suites BUILDDIR [meson test args...]
	local dir=$1
	shift
	local rc=0
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
	tally "$dir"
	if [ "$rc" -ne 0 ] && [ "$total_fail" -eq 0 ]; then
		total_fail=1 # meson failed without a failed test (a build error, say)
	fi
	if [ "$rc" -ne 0 ] || [ "$total_skip" -gt 0 ]; then
		echo "test.sh: $dir: suites failed or skipped tests" >&2
		verdict
		exit "$rc"
	fi
}

echo "== gcc build: unit, fuzz replay, e2e"
meson setup --wipe build-test -Dtest_faults=true >/dev/null 2>&1 ||
	meson setup build-test -Dtest_faults=true
ninja -C build-test
run_suites build-test

echo "== gcc build without NetworkManager support (-Dnm=disabled): unit"
meson setup --wipe build-test-nonm -Dnm=disabled >/dev/null 2>&1 ||
	meson setup build-test-nonm -Dnm=disabled
ninja -C build-test-nonm
run_suites build-test-nonm --suite unit

if [ "${SONOTA_TEST_SKIP_FUZZ:-0}" != 1 ]; then
	echo "== clang + libFuzzer build: fuzz (${fuzz_secs} s per target)"
	CC=clang meson setup --wipe build-test-fuzz -Dfuzz=enabled -Dfuzz_seconds="$fuzz_secs" \
		>/dev/null 2>&1 || CC=clang meson setup build-test-fuzz -Dfuzz=enabled \
		-Dfuzz_seconds="$fuzz_secs"
	ninja -C build-test-fuzz
	run_suites build-test-fuzz --suite fuzz
	# A default build (no -Dtest_faults): no fault hook in the binary.
	run_suites build-test-fuzz linkage
fi

if [ "${SONOTA_TEST_SKIP_ASAN:-0}" != 1 ]; then
	echo "== gcc ASan+UBSan build: unit, fuzz replay, e2e"
	meson setup --wipe build-test-asan -Db_sanitize=address,undefined -Dtest_faults=true \
		>/dev/null 2>&1 ||
		meson setup build-test-asan -Db_sanitize=address,undefined -Dtest_faults=true
	ninja -C build-test-asan
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
		run_suites build-test-asan
fi

echo "test.sh: every suite passed"
closing_line
