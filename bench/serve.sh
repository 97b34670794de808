#!/usr/bin/env bash
# Measures `psi serve` (release build, SQLite in a temporary data directory, `--demo`):
#   - start to ready: from starting the process until `GET /readyz` answers 200, on a fresh data
#     directory (migrations, master key, admin token) and again on the same directory;
#   - idle RSS, from /proc, once the demo is seeded and no request runs;
#   - wrk (2 threads, 64 connections, DURATION seconds each) against the public action-templates
#     endpoint, the authenticated link endpoint (with pre-filled values), and nginx serving the same
#     action-templates bytes from a file; req/s of each and the ratio psi / nginx. psi and nginx
#     take turns for ROUNDS rounds and each keeps its best, so load from other processes on the
#     machine weighs on both alike.
#   - idle RSS again IDLE_AFTER seconds (default 60) after the load ended: memory the load took
#     must be given back.
# Targets: public reads at least 0.8 of nginx's req/s; idle RSS under 30 MB, and under 40 MB a
# minute after the load; start to ready under 300 ms on SQLite.
#
# Both servers run without per-request logs (psi: PSI_LOG_LEVEL=warn; nginx: access_log off), as a
# busy production deployment would, and nginx gets as many workers as there are cores.
#
# Usage: bench/serve.sh                  (DURATION=10, ROUNDS=2)
#        DURATION=30 ROUNDS=3 bench/serve.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
duration="${DURATION:-10}"
rounds="${ROUNDS:-2}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
psi="${PSI_BIN:-$target_dir/release/psi}"

# Debian packages the bench needs, installed when missing.
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}..." >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

build_release

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT


now_ns() { date +%s%N; }

# Starts psi on the data directory; sets psi_pid, psi_url and ready_ms (start to /readyz 200).
start_psi() {
  local port start
  port="$(free_port)"
  psi_url="http://127.0.0.1:$port"
  start=$(now_ns)
  PSI_LOG_LEVEL=warn "$psi" serve --demo --data-dir "$work/data" --listen "127.0.0.1:$port" \
    > "$work/psi.out" 2> "$work/psi.err" &
  psi_pid=$!
  pids+=("$psi_pid")
  until curl -fs -o /dev/null "$psi_url/readyz"; do
    kill -0 "$psi_pid" 2>/dev/null || { cat "$work/psi.err" >&2; exit 1; }
    sleep 0.001
  done
  ready_ms=$(( ($(now_ns) - start) / 1000000 ))
  # The demo is seeded once the instructions are printed.
  until grep -q "QR code:" "$work/psi.out"; do
    kill -0 "$psi_pid" 2>/dev/null || { cat "$work/psi.err" >&2; exit 1; }
    sleep 0.01
  done
}

stop_psi() {
  kill "$psi_pid"
  wait "$psi_pid" 2>/dev/null || true
}

start_psi
first_ready_ms=$ready_ms
token="$(sed -n 's/^admin token (shown once, store it now): //p' "$work/psi.out")"
stop_psi
start_psi
restart_ready_ms=$ready_ms

templates_url="$(sed -n 's/^  public action templates: //p' "$work/psi.out")"
link_url="$(sed -n "s/^  link JSON: curl -H \"[^\"]*\" '\(.*\)'$/\1/p" "$work/psi.out")"
[[ -n "$templates_url" && -n "$link_url" && -n "$token" ]] || {
  echo "bench/serve.sh: unexpected demo output:" >&2
  cat "$work/psi.out" >&2
  exit 1
}
curl -fs -H "Authorization: Bearer $token" "$link_url" -o /dev/null || {
  echo "bench/serve.sh: the link endpoint does not answer" >&2
  exit 1
}

sleep 1
idle_rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$psi_pid/status")

# nginx serving psi's action-templates bytes from a file under the same path.
templates_path="${templates_url#"$psi_url"}"
mkdir -p "$work/www$(dirname "$templates_path")" "$work/nginx"
curl -fs "$templates_url" -o "$work/www$templates_path"
# Started by root, nginx's workers run as an unprivileged user: let them read the file.
chmod a+x "$work"
chmod -R a+rX "$work/www"
nginx_port="$(free_port)"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    default_type application/json;
    etag on;
  }
}
EOF
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=("$!")
nginx_url="http://127.0.0.1:$nginx_port$templates_path"
for _ in $(seq 1 500); do
  curl -fs -o /dev/null "$nginx_url" && break
  sleep 0.01
done
curl -fs "$nginx_url" -o "$work/from-nginx" || true
cmp -s "$work/from-nginx" "$work/www$templates_path" || {
  echo "bench/serve.sh: nginx does not serve the same bytes as psi; its log:" >&2
  cat "$work/nginx/error.log" >&2
  exit 1
}

# Requests per second wrk reports for a URL (extra arguments go to wrk).
rps() {
  local url="$1"; shift
  wrk -t2 -c64 -d"${duration}s" --latency "$@" "$url" > "$work/wrk.txt"
  grep -q "Non-2xx" "$work/wrk.txt" && { cat "$work/wrk.txt" >&2; exit 1; }
  awk '/^Requests\/sec:/ { printf "%d", $2 }' "$work/wrk.txt"
}
p99() { awk '$1 == "99%" { print $2 }' "$work/wrk.txt"; }

psi_templates=0 nginx_templates=0
for ((round = 1; round <= rounds; round++)); do
  echo "round $round/$rounds: wrk on psi's action-templates, then on nginx's copy..." >&2
  rate=$(rps "$templates_url")
  ((rate > psi_templates)) && { psi_templates=$rate; psi_templates_p99=$(p99); }
  rate=$(rps "$nginx_url")
  ((rate > nginx_templates)) && { nginx_templates=$rate; nginx_p99=$(p99); }
done
echo "wrk: link endpoint on psi..." >&2
psi_link=$(rps "$link_url" -H "Authorization: Bearer $token"); psi_link_p99=$(p99)
idle_after="${IDLE_AFTER:-60}"
echo "idle for ${idle_after} s after the load..." >&2
loaded_rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$psi_pid/status")
sleep "$idle_after"
after_rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$psi_pid/status")
after_rss_split=$(rss_split "$psi_pid")

ratio=$(awk -v a="$psi_templates" -v b="$nginx_templates" 'BEGIN { printf "%.2f", a / b }')
cat <<EOF
psi serve (SQLite, release, $(nproc) cores, wrk -t2 -c64 -d${duration}s, best of $rounds rounds)
  start to ready, fresh data dir:   ${first_ready_ms} ms
  start to ready, existing data:    ${restart_ready_ms} ms
  idle RSS:                         $((idle_rss_kb / 1024)) MB (${idle_rss_kb} kB)
  RSS as the load ended:            $((loaded_rss_kb / 1024)) MB
  idle RSS ${idle_after} s after the load:      $((after_rss_kb / 1024)) MB (${after_rss_kb} kB; $after_rss_split)
  action-templates (psi):           ${psi_templates} req/s (p99 ${psi_templates_p99})
  link endpoint (psi, pre-filled):  ${psi_link} req/s (p99 ${psi_link_p99})
  action-templates bytes (nginx):   ${nginx_templates} req/s (p99 ${nginx_p99})
  psi / nginx (action-templates):   ${ratio}
EOF
result_row lower "start to ready, fresh data directory" "$first_ready_ms" target 300 ms "< 300 ms"
result_row lower "idle RSS" "$((idle_rss_kb / 1024))" target 30 MB "< 30 MB"
result_row lower "idle RSS ${idle_after} s after load" "$((after_rss_kb / 1024))" target 40 MB "< 40 MB"
result_row higher "public reads (action-templates)" "$psi_templates" nginx "$nginx_templates" req/s ">= 0.80"
