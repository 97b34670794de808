#!/usr/bin/env bash
# Decodes the same file of links with `psi link decode --batch` (release build) and with a small
# Node.js reference (bench/node/decode.js: js-base64 + JSON.parse), checks that both give the same
# requests, and prints both times and their ratio (target: psi at least 3x faster).
#
# Usage: bench/links.sh            (LINKS=100000 lines, best of RUNS=3 runs each)
#        LINKS=1000000 RUNS=5 bench/links.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
links="${LINKS:-100000}"
runs="${RUNS:-3}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
psi="${PSI_BIN:-$target_dir/release/psi}"

require_tools cargo node npm

build_release
echo "installing the Node.js reference's dependencies..." >&2
(cd "$root/bench/node" && npm install --no-audit --no-fund --silent)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

node "$root/bench/node/generate.js" "$root/vectors/links.json" "$links" > "$work/links.txt"

# Runs a command RUNS times and prints the fastest wall time in milliseconds. Exit status 3
# ("some lines failed") is expected: the file holds bad links on purpose.
best_ms() {
  local out="$1"; shift
  local best="" start end status elapsed
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    status=0
    "$@" > "$out" 2>/dev/null || status=$?
    end=$(date +%s%N)
    if [[ $status -ne 0 && $status -ne 3 ]]; then
      echo "bench/links.sh: '$*' failed with status $status" >&2
      exit 1
    fi
    elapsed=$(( (end - start) / 1000000 ))
    if [[ -z "$best" || $elapsed -lt $best ]]; then best=$elapsed; fi
  done
  echo "$best"
}

psi_ms=$(best_ms "$work/psi.jsonl" "$psi" link decode --batch "$work/links.txt" --quiet)
node_ms=$(best_ms "$work/node.jsonl" node "$root/bench/node/decode.js" "$work/links.txt")

# Same requests, byte for byte, on the same lines; same number of errors on the same lines.
psi_ok=$(grep -c '"request":' "$work/psi.jsonl" || true)
node_ok=$(grep -c '"request":' "$work/node.jsonl" || true)
psi_err=$(grep -c '"error":' "$work/psi.jsonl" || true)
node_err=$(grep -c '"error":' "$work/node.jsonl" || true)
if ! cmp -s <(grep '"request":' "$work/psi.jsonl") <(grep '"request":' "$work/node.jsonl"); then
  echo "bench/links.sh: psi and the Node.js reference decoded different requests" >&2
  diff <(grep '"request":' "$work/psi.jsonl") <(grep '"request":' "$work/node.jsonl") | head -5 >&2
  exit 1
fi
if ! cmp -s <(grep -o '^{"line":[0-9]*,"error"' "$work/psi.jsonl") <(grep -o '^{"line":[0-9]*,"error"' "$work/node.jsonl"); then
  echo "bench/links.sh: psi and the Node.js reference failed on different lines" >&2
  exit 1
fi
if [[ $psi_ok -eq 0 ]]; then
  echo "bench/links.sh: no link decoded" >&2
  exit 1
fi

lines=$(wc -l < "$work/links.txt")
ratio=$(awk -v n="$node_ms" -v p="$psi_ms" 'BEGIN { printf "%.1f", n / (p > 0 ? p : 1) }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 3 ? "met" : "NOT met") }')
echo "input:  $lines lines ($psi_ok ok, $psi_err bad; outputs identical)"
echo "psi:    ${psi_ms} ms  ($(awk -v p="$psi_ms" -v n="$lines" 'BEGIN { printf "%.0f", n / (p > 0 ? p : 1) * 1000 }') lines/s)"
echo "node:   ${node_ms} ms  ($(node --version), js-base64 + JSON.parse)"
echo "ratio:  ${ratio}x faster (target >= 3x: $verdict; best of $runs runs each)"
[[ $node_ok -eq $psi_ok && $node_err -eq $psi_err ]]
result_row lower "link decode --batch, $lines lines" "$psi_ms" "Node.js" "$node_ms" ms ">= 3.00"
