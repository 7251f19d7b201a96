#!/bin/sh
# run-fuzz.sh FUZZER CORPUS SECONDS: a bounded libFuzzer run.
# New inputs go to a scratch directory (the saved corpus is only read); a crash
# leaves its reproducer in the build directory and fails the test.
set -eu
fuzzer=$1 corpus=$2 secs=$3
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "empty corpus $corpus" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-print_final_stats=1 "$scratch" "$corpus"
