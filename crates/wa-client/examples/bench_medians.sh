#!/usr/bin/env bash
# Runs the release send_load harness RUNS times with the given arguments and prints each run's
# JSON line, then one JSON object of per-field medians (README "Benchmarks").
#
#   cargo build --release -p wagate -p wa-client --example send_load
#   crates/wa-client/examples/bench_medians.sh 3 --accounts 8 --seconds 10 [--peer baileys]
#
# Env: TARGET_DIR (default: target), QUIET_WAIT=1 waits (up to 10 min) until no rustc runs
# before each run, so a shared build machine does not skew the figures.
set -euo pipefail
runs="${1:?usage: bench_medians.sh RUNS send_load-args...}"
shift
bin="${TARGET_DIR:-target}/release/examples/send_load"
lines=()
for ((i = 1; i <= runs; i++)); do
	if [[ "${QUIET_WAIT:-0}" == 1 ]]; then
		for ((w = 0; w < 300; w++)); do
			pgrep -x rustc >/dev/null || break
			sleep 2
		done
	fi
	line="$("$bin" "$@" 2>/dev/null | tail -n 1)"
	echo "$line"
	lines+=("$line")
done
printf '%s\n' "${lines[@]}" | jq -s -c '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	. as $runs
	| [$runs[0] | keys_unsorted[]] as $keys
	| reduce $keys[] as $k ({runs: ($runs | length)};
		. + {($k): ([$runs[][$k] | select(type == "number")] | if length > 0 then median else null end)})'
