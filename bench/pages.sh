#!/usr/bin/env bash
# Measures the start page under load: `psi serve --demo` (release build, SQLite in a temporary
# data directory, no per-request logs) and wrk against
#   - the desktop page (inline QR code of the link),
#   - the phone page with two pre-filled values (checked against the schema, as the link endpoint
#     checks them),
# each for DURATION seconds with 2 threads and 32 connections. Reports wrk's req/s and latency
# percentiles, and the server-side time of the handler from psi's own histogram
# (`http_request_duration_seconds` for the start page's route in /metrics, measured from the
# router to the response): the share of requests under 5 ms and the bucket its p99 falls in.
# Target: p99 of the server-side time under 5 ms.
#
# Usage: bench/pages.sh                  (DURATION=10)
#        DURATION=30 bench/pages.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-8}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
psi="${PSI_BIN:-$target_dir/release/psi}"

ensure_wrk

build_release

work="$(mktemp -d)"
psi_pid=""
cleanup() {
  if [[ -n "$psi_pid" ]]; then
    kill "$psi_pid" 2>/dev/null || true
    wait "$psi_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
PSI_LOG_LEVEL=warn "$psi" serve --demo --data-dir "$work/data" --listen "127.0.0.1:$port" \
  > "$work/psi.out" 2> "$work/psi.err" &
psi_pid=$!
until grep -q "link JSON:" "$work/psi.out"; do
  kill -0 "$psi_pid" 2>/dev/null || { cat "$work/psi.err" >&2; exit 1; }
  sleep 0.05
done

# The demo's link endpoint names the service and the interaction; its query the pre-filled values.
link_line="$(grep 'link JSON:' "$work/psi.out")"
did="$(sed -n 's|.*/api/v1/services/\([^/]*\)/interactions/.*|\1|p' <<<"$link_line")"
interaction="$(sed -n 's|.*/interactions/\([^/]*\)/link?.*|\1|p' <<<"$link_line")"
prefill="$(sed -n "s|.*/link?\([^']*\)'.*|\1|p" <<<"$link_line")"
start_url="$base/s/$did/$interaction/start.html"
curl -fs -o /dev/null "$start_url" || { echo "bench/pages.sh: no start page at $start_url" >&2; exit 1; }
curl -fs -o /dev/null "$start_url?$prefill" || { echo "bench/pages.sh: pre-filled page refused" >&2; exit 1; }

desktop_ua="Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
phone_ua="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"

# wrk against a URL with a User-Agent; prints "req/s p50 p99".
load() {
  local url="$1" ua="$2"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -H "User-Agent: $ua" "$url" > "$work/wrk.txt"
  if grep -q "Non-2xx" "$work/wrk.txt"; then cat "$work/wrk.txt" >&2; exit 1; fi
  awk '/^Requests\/sec:/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
       END { printf "%d req/s, p50 %s, p99 %s", rps, p50, p99 }' "$work/wrk.txt"
}

echo "wrk: desktop start page..." >&2
desktop="$(load "$start_url" "$desktop_ua")"
echo "wrk: phone start page with pre-filled values..." >&2
phone="$(load "$start_url?$prefill" "$phone_ua")"

# Server-side time of the start page's route, from psi's histogram (both runs together).
curl -fs "$base/metrics" > "$work/metrics.txt"
server_time="$(awk '
  /^http_request_duration_seconds_(bucket|count)\{/ && /route="\/s\/\{serviceDid\}\/\{interactionId\}\/start.html"/ && /status="200"/ {
    if ($0 ~ /_count\{/) { count += $2; next }
    match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
    bucket[le] += $2; if (!(le in seen)) { seen[le] = 1; order[n++] = le }
  }
  END {
    if (count == 0) { print "no samples"; exit 1 }
    p99 = "over 10 s"
    for (i = 0; i < n; i++) if (order[i] != "+Inf" && bucket[order[i]] >= 0.99 * count) { p99 = "<= " order[i] * 1000 " ms"; break }
    printf "%d requests, %.3f%% under 5 ms, p99 %s", count, 100 * bucket["0.005"] / count, p99
  }' "$work/metrics.txt")"

cat <<EOF
start page (psi serve, SQLite, release, $(nproc) cores, wrk -t2 -c$connections -d${duration}s each)
  desktop (QR code):                 $desktop
  phone (Chrome, 2 pre-filled):      $phone
  server-side time (psi histogram):  $server_time
EOF
share=$(sed -n 's/.*requests, \([0-9.]*\)% under 5 ms.*/\1/p' <<< "$server_time")
result_row higher "start page: requests under 5 ms (server side, ${connections} connections)" "$share" target 99 % ">= 99 %"
