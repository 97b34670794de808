#!/usr/bin/env bash
# Runs every benchmark with settings short enough for the whole run to take under 15 minutes on
# a 2-core machine, then prints one table: each measure, psi's figure, what it is compared with
# (a peer measured in the same run, such as nginx or Node.js, or the goal's figure), and the
# ratio, above 1 where psi is ahead. Run it before and after a change to see regressions; the
# scripts' own full outputs go to the log named at the end.
#
# Each script alone measures longer and prints more (see its header). PSI_BIN measures another
# psi binary (an earlier build) with the same load generators.
#
# Usage: bench/all.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BENCH_RESULTS
BENCH_RESULTS="$(mktemp)"
log="${BENCH_LOG:-$(mktemp --suffix=.log)}"
started=$(date +%s)

run() {
  local name="$1"; shift
  echo "== $name ($(($(date +%s) - started)) s in)" | tee -a "$log" >&2
  env "$@" bash "$root/bench/$name.sh" >> "$log" 2>&1 || {
    echo "bench/all.sh: $name failed; see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  }
}

run serve DURATION=5 ROUNDS=2 IDLE_AFTER=60
run pages DURATION=5 CONNECTIONS=16
run dashboard DURATION=3 CONNECTIONS=4
run links LINKS=100000 RUNS=2
run events EVENTS=2000 IDLE_AFTER=30
run deliveries MESSAGES=10000 PROCESS_COUNTS="1 2"

echo
echo "psi benchmarks, $(nproc) cores, $(date -u +%Y-%m-%d), $(($(date +%s) - started)) s; full output: $log"
{
  echo "measure|psi|compared with|its figure|ratio|goal"
  cat "$BENCH_RESULTS"
} | column -t -s '|'
rm -f "$BENCH_RESULTS"
