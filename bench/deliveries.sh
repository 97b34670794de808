#!/usr/bin/env bash
# Deliveries per second from the outbox to a fast local receiver, with `psi serve` (release) on
# SQLite and on PostgreSQL, with one and with two processes delivering, in two modes (MODES):
#
# e2e: the PROCESSES psi processes run with workers while CLIENTS (32) keep-alive clients send MESSAGES
# test messages through the management API in a closed loop (each sends its next once psi
# accepted the last), and the receiver, in the same load process, answers at once. Reports the
# rate from the first send to the last message received and the send→receive latency p50/p99.
# Targets on PostgreSQL: at least 2,100/s, p99 below 60 ms.
#
# drain: a psi process without workers (PSI_DELIVERY_WORKERS=0) takes MESSAGES test
# messages through the management API (POST .../endpoints/{id}/test) and stops; then PROCESSES psi
# processes with workers start on the same database and deliver the outbox to the receiver
# (crates/psi-cli/examples/deliveries_load.rs), which answers at once and prints the rate from
# the first delivery to the one that completes MESSAGES distinct message ids.
#
# Endpoints authenticate with HS256 Bearer tokens (AUTH=bearer, the default); AUTH=signature uses
# the service's RSA key (X-Body-Signature), whose signing costs about 2 ms of CPU per delivery.
#
# SQLite lives in a temporary data directory; PostgreSQL (POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test) gets a fresh database per case, created and dropped
# here. BACKENDS and PROCESS_COUNTS pick the cases; WORKERS and BATCH set [delivery] workers and
# batch_size of each delivering process.
#
# Target: at least 5,500/s on PostgreSQL.
#
# Usage: bench/deliveries.sh                  (MESSAGES=20000, AUTH=bearer, WORKERS=4, BATCH=32)
#        MESSAGES=2000 AUTH=signature BACKENDS=postgres PROCESS_COUNTS=1 bench/deliveries.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
messages="${MESSAGES:-20000}"
clients="${CLIENTS:-32}"
auth="${AUTH:-bearer}"
backends="${BACKENDS:-sqlite postgres}"
process_counts="${PROCESS_COUNTS:-1 2}"
modes="${MODES:-e2e drain}"
workers="${WORKERS:-4}"
batch="${BATCH:-32}"
postgres_url="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

require_tools cargo curl python3 psql

work="$(mktemp -d)"
build_psi_and_load deliveries_load
pids=()
receiver_pid=""
bench_db=""
cleanup() {
  for pid in "${pids[@]}" $receiver_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$bench_db" ]]; then
    psql -q "$postgres_url" -c "DROP DATABASE IF EXISTS $bench_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT


bench_secrets
export PSI_ADMIN_TOKEN="$admin_token"

# Starts a psi process with $1 delivery workers on database URL $2 (empty: SQLite in
# $work/data), waits until it is ready, and sets psi_url; its pid is appended to pids.
start_psi() {
  local workers="$1" database_url="$2" port pid
  port="$(free_port)"
  psi_url="http://127.0.0.1:$port"
  local args=(serve --data-dir "$work/data" --listen "127.0.0.1:$port")
  [[ -z "$database_url" ]] || args+=(--database-url "$database_url")
  PSI_LOG_LEVEL=warn PSI_MASTER_KEY="$master_key" PSI_OUTBOUND_ALLOW_LOOPBACK=true \
    PSI_DELIVERY_WORKERS="$workers" PSI_DELIVERY_BATCH_SIZE="$batch" \
    "$psi" "${args[@]}" > "$work/psi-$port.out" 2> "$work/psi-$port.err" &
  pid=$!
  pids+=("$pid")
  until curl -fs -o /dev/null "$psi_url/readyz"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/psi-$port.err" >&2; exit 1; }
    sleep 0.01
  done
}

stop_all_psi() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

results=()
for mode in $modes; do
for backend in $backends; do
  for processes in $process_counts; do
    rm -rf "$work/data"
    database_url=""
    case "$backend" in
      sqlite) ;;
      postgres)
        bench_db="psi_deliveries_$$"
        psql -q "$postgres_url" -c "CREATE DATABASE $bench_db" >/dev/null
        database_url="$(bench_database_url "$bench_db")"
        ;;
      *)
        echo "bench/deliveries.sh: unknown backend $backend (sqlite, postgres)" >&2
        exit 1
        ;;
    esac
    label="$mode, $backend, $processes process(es) x $workers workers, $auth"
    receiver_port="$(free_port)"

    if [[ "$mode" == e2e ]]; then
      for _ in $(seq "$processes"); do
        start_psi "$workers" "$database_url"
      done
      read -r did endpoint < <("$load" setup --server "$psi_url" \
        --receiver "http://127.0.0.1:$receiver_port/hook" --auth "$auth")
      results+=("$("$load" e2e --server "$psi_url" --did "$did" --endpoint "$endpoint" \
        --port "$receiver_port" --count "$messages" --concurrency "$clients" --label "$label")")
      rate=$(sed -n 's/.* = \([0-9]*\)\/s end to end.*/\1/p' <<< "${results[-1]}")
      p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<< "${results[-1]}")
      result_row higher "deliveries end to end, $backend, $processes process(es)" "$rate" \
        target 2100 /s ">= 1.00 on postgres"
      result_row lower "deliveries send→receive p99, $backend, $processes process(es)" "$p99" \
        target 60 ms ">= 1.00 on postgres"
    else
      "$load" receive --port "$receiver_port" --count "$messages" --label "$label" \
        > "$work/receiver.out" 2> "$work/receiver.err" &
      receiver_pid=$!
      until grep -q listening "$work/receiver.out" 2>/dev/null; do
        kill -0 "$receiver_pid" 2>/dev/null || { cat "$work/receiver.err" >&2; exit 1; }
        sleep 0.01
      done

      echo "$label: enqueueing $messages messages..." >&2
      start_psi 0 "$database_url"
      read -r did endpoint < <("$load" setup --server "$psi_url" \
        --receiver "http://127.0.0.1:$receiver_port/hook" --auth "$auth")
      "$load" enqueue --server "$psi_url" --did "$did" --endpoint "$endpoint" \
        --count "$messages" --concurrency 32
      stop_all_psi

      echo "$label: delivering..." >&2
      for _ in $(seq "$processes"); do
        start_psi "$workers" "$database_url"
      done
      wait "$receiver_pid"
      receiver_pid=""
      results+=("$(tail -n 1 "$work/receiver.out")")
      rate=$(sed -n 's/.* = \([0-9]*\) deliveries\/s.*/\1/p' <<< "${results[-1]}")
      result_row higher "deliveries drain, $backend, $processes process(es)" "$rate" \
        target 5500 /s ">= 1.00 on postgres"
    fi
    stop_all_psi
    # What psi reported as going wrong, if anything.
    grep -h " ERROR " "$work"/psi-*.err >&2 || true
    rm -f "$work"/psi-*.err "$work"/psi-*.out

    if [[ -n "$bench_db" ]]; then
      psql -q "$postgres_url" -c "DROP DATABASE $bench_db" >/dev/null
      bench_db=""
    fi
  done
done
done

echo
echo "deliveries from the outbox to a local receiver, $(nproc) cores:"
printf '  %s\n' "${results[@]}"
echo "targets on PostgreSQL: e2e at least 2100/s with p99 below 60 ms; drain at least 5500/s"
