#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), build and pass every test, as root
# on a fresh Debian 12 machine. Three builds, each running its suites:
#   build-test        gcc:               unit, fuzz (corpus replay), e2e
#   build-test-fuzz   clang + libFuzzer: fuzz (time-bounded fuzzing)
#   build-test-asan   gcc, ASan+UBSan:   unit, fuzz (replay), e2e
# Any failure stops the script with a non-zero status.
#
# Environment: SONOTA_TEST_FUZZ_SECONDS (default 20), SONOTA_TEST_SKIP_ASAN=1 and
# SONOTA_TEST_SKIP_FUZZ=1 to shorten a local run (CI runs everything).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
fuzz_secs=${SONOTA_TEST_FUZZ_SECONDS:-20}

bash scripts/setup.sh

total_ok=0
total_fail=0
run_suites() { # run_suites BUILDDIR [meson test args...]
	local dir=$1
	shift
	local rc=0
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
	local ok fail
	ok=$(sed -n 's/^Ok:[[:space:]]*\([0-9]*\).*/\1/p' "$dir/meson-logs/testlog.txt" | tail -n1)
	fail=$(sed -n 's/^Fail:[[:space:]]*\([0-9]*\).*/\1/p' "$dir/meson-logs/testlog.txt" | tail -n1)
	total_ok=$((total_ok + ${ok:-0}))
	total_fail=$((total_fail + ${fail:-0}))
	if [ "$rc" -ne 0 ]; then
		echo "test.sh: $dir: suites failed" >&2
		echo "$total_ok passed, $((total_fail > 0 ? total_fail : 1)) failed"
		exit "$rc"
	fi
}

echo "== gcc build: unit, fuzz replay, e2e"
meson setup --wipe build-test >/dev/null 2>&1 || meson setup build-test
ninja -C build-test
run_suites build-test

if [ "${SONOTA_TEST_SKIP_FUZZ:-0}" != 1 ]; then
	echo "== clang + libFuzzer build: fuzz (${fuzz_secs} s per target)"
	CC=clang meson setup --wipe build-test-fuzz -Dfuzz=enabled -Dfuzz_seconds="$fuzz_secs" \
		>/dev/null 2>&1 || CC=clang meson setup build-test-fuzz -Dfuzz=enabled \
		-Dfuzz_seconds="$fuzz_secs"
	ninja -C build-test-fuzz
	run_suites build-test-fuzz --suite fuzz
fi

if [ "${SONOTA_TEST_SKIP_ASAN:-0}" != 1 ]; then
	echo "== gcc ASan+UBSan build: unit, fuzz replay, e2e"
	meson setup --wipe build-test-asan -Db_sanitize=address,undefined >/dev/null 2>&1 ||
		meson setup build-test-asan -Db_sanitize=address,undefined
	ninja -C build-test-asan
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
		run_suites build-test-asan
fi

echo "test.sh: every suite passed"
echo "$total_ok passed, $total_fail failed"
