#!/usr/bin/env bash
# Runs N complete events (wallet → server → webhook receiver → credential issued) against
# `psi serve` (release build) on SQLite and on PostgreSQL, and prints events per second for each.
# Targets on a 2-core machine with RSA signatures: at least 500 events/s on PostgreSQL, 400 on
# SQLite.
#
# The load generator (crates/psi-cli/examples/events_load.rs) seeds a service through the
# management API and runs CONCURRENCY holders at a time, each event signed by a new pairwise key
# exactly as `psi wallet run` signs it; its webhook receiver checks psi's X-Body-Signature and
# issues one credential per event. One process for all holders: a `psi wallet` process per event
# would measure process start, not the server.
#
# Besides the measured rate, the CPU time per event of the server and of the load generator is
# printed, with the rate those allow on all cores: the measured rate drops when other programs
# share the machine, the CPU time per event hardly does.
#
# With IDLE_AFTER=<seconds>, psi's RSS is read as the load ends and again that long after.
#
# With EXTENSIONS=<n> (default 0), the load generator also authors n extensions in the service,
# installs each and attaches each to the interaction (docs/extensions.md): each one's `on_receive`
# trigger (called in every event, before the webhook; answers that it issues nothing) and
# `on_finish` trigger (a durable delivery through the outbox after every event) are receivers in
# the load generator, signed like the webhook. It prints the calls each trigger got, so the run
# shows the extensions ran: on_receive n per event, and the on_finish deliveries that arrived by
# the end of the measured events and within 10 s after (their CPU, psi's and the load
# generator's, is in the CPU per event; PostgreSQL's commits per event include them). Goal with
# three extensions: at least 200 events/s on PostgreSQL.
#
# Webhook calls are signed with the service's RSA key (X-Body-Signature, the default); AUTH=bearer
# uses HS256 Bearer tokens with a SHA secret instead (no RSA operation per event).
#
# SQLite lives in a temporary data directory; PostgreSQL (POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test) gets a fresh database, created and dropped here. Set
# BACKENDS=sqlite to skip PostgreSQL.
#
# Usage: bench/events.sh                         (EVENTS=5000, CONCURRENCY=32, AUTH=signature)
#        EVENTS=20000 CONCURRENCY=64 AUTH=bearer BACKENDS=sqlite bench/events.sh
#        EXTENSIONS=3 BACKENDS=postgres bench/events.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
events="${EVENTS:-5000}"
concurrency="${CONCURRENCY:-32}"
auth="${AUTH:-signature}"
backends="${BACKENDS:-sqlite postgres}"
postgres_url="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
idle_after="${IDLE_AFTER:-0}"
extensions="${EXTENSIONS:-0}"
[[ "$extensions" =~ ^[0-9]+$ ]] || { echo "$0: EXTENSIONS must be a number" >&2; exit 1; }
# The result lines name the extensions when there are any.
with_extensions=""
((extensions == 0)) || with_extensions=", $extensions extensions"

require_tools cargo curl python3 psql

work="$(mktemp -d)"
build_psi_and_load events_load
psi_pid=""
bench_db=""
cleanup() {
  if [[ -n "$psi_pid" ]]; then
    kill "$psi_pid" 2>/dev/null || true
    wait "$psi_pid" 2>/dev/null || true
  fi
  if [[ -n "$bench_db" ]]; then
    psql -q "$postgres_url" -c "DROP DATABASE IF EXISTS $bench_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT


bench_secrets

# Starts psi on a fresh data directory, with database URL $1 (empty: SQLite), and waits until
# it is ready. Webhooks may reach loopback: the receiver runs inside the load generator.
start_psi() {
  local database_url="$1" port
  port="$(free_port)"
  psi_url="http://127.0.0.1:$port"
  rm -rf "$work/data"
  local args=(serve --data-dir "$work/data" --listen "127.0.0.1:$port")
  [[ -z "$database_url" ]] || args+=(--database-url "$database_url")
  PSI_LOG_LEVEL=warn PSI_ADMIN_TOKEN="$admin_token" PSI_MASTER_KEY="$master_key" \
    PSI_OUTBOUND_ALLOW_LOOPBACK=true "$psi" "${args[@]}" > "$work/psi.out" 2> "$work/psi.err" &
  psi_pid=$!
  until curl -fs -o /dev/null "$psi_url/readyz"; do
    kill -0 "$psi_pid" 2>/dev/null || { cat "$work/psi.err" >&2; exit 1; }
    sleep 0.01
  done
}

# CPU time (user + system) a process has used so far, in clock ticks.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Transactions committed on the bench database so far.
commits() {
  psql -qAt "$postgres_url" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$bench_db'"
}

stop_psi() {
  kill "$psi_pid"
  wait "$psi_pid" 2>/dev/null || true
  psi_pid=""
}

results=()
for backend in $backends; do
  case "$backend" in
    sqlite)
      start_psi ""
      ;;
    postgres)
      bench_db="psi_bench_$$"
      psql -q "$postgres_url" -c "CREATE DATABASE $bench_db" >/dev/null
      # The same server and credentials, another database.
      start_psi "$(bench_database_url "$bench_db")"
      ;;
    *)
      echo "bench/events.sh: unknown backend $backend (sqlite, postgres)" >&2
      exit 1
      ;;
  esac
  echo "running $events events on $backend..." >&2
  server_before=$(cpu_ticks "$psi_pid")
  [[ "$backend" != postgres ]] || commits_before=$(commits)
  TIMEFORMAT='%U %S'
  { time "$load" --server "$psi_url" --admin-token "$admin_token" --events "$events" \
      --concurrency "$concurrency" --label "$backend$with_extensions" --auth "$auth" \
      --extensions "$extensions" \
      > "$work/result" 2> "$work/load.err" || { cat "$work/load.err" >&2; exit 1; }; } \
    2> "$work/load.time"
  server_after=$(cpu_ticks "$psi_pid")
  # Per event, over the measured events and the warm-up (one round of CONCURRENCY events).
  cpu_line=$(python3 - "$server_before" "$server_after" "$(cat "$work/load.time")" <<PY
import os, sys
ticks = os.sysconf("SC_CLK_TCK")
server = (int(sys.argv[2]) - int(sys.argv[1])) / ticks
load = sum(float(x) for x in sys.argv[3].split())
n = $events + min($concurrency, $events)
cores = os.cpu_count()
# PostgreSQL's own processes are not counted: its ceiling is higher than the machine's.
note = " (psi's process only, not PostgreSQL's)" if "$backend" == "postgres" else ""
print(f"CPU per event: server {server / n * 1000:.2f} ms{note}, load generator"
      f" {load / n * 1000:.2f} ms -> {cores} cores allow {cores * n / (server + load):.0f} events/s")
PY
)
  results+=("$(cat "$work/result")" "    $cpu_line")
  if [[ "$backend" == postgres ]]; then
    # Every transaction psi commits meanwhile (reads outside a transaction are one each),
    # the load generator's set-up and the delivery workers' polls included.
    sleep 1.5 # PostgreSQL publishes its counters within a second
    per_event=$(python3 -c "print(f'{($(commits) - $commits_before) / ($events + min($concurrency, $events)):.2f}')")
    results+=("    PostgreSQL commits per event: $per_event")
    result_row lower "PostgreSQL commits per event" "$per_event" target 3 commits "<= 3"
  fi
  if ((idle_after > 0)); then
    loaded_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$psi_pid/status")
    sleep "$idle_after"
    idle_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$psi_pid/status")
    results+=("    RSS $((loaded_kb / 1024)) MB as the load ended, $((idle_kb / 1024)) MB ${idle_after} s later ($(rss_split "$psi_pid"))")
    result_row lower "idle RSS ${idle_after} s after the events, $backend" "$((idle_kb / 1024))" \
      target 40 MB "< 40 MB"
  fi
  rate=$(sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p' "$work/result")
  if ((extensions == 0)); then
    goal=$([[ "$backend" == postgres ]] && echo 500 || echo 400)
  else
    goal=200 # with three extensions, on PostgreSQL
  fi
  result_row higher "complete events, $backend, $auth$with_extensions" "$rate" target "$goal" \
    events/s ">= 1.00"
  stop_psi
  if [[ "$backend" == postgres ]]; then
    psql -q "$postgres_url" -c "DROP DATABASE $bench_db" >/dev/null
    bench_db=""
  fi
done

echo
echo "complete events (wallet → psi → webhook receiver → credential issued), webhook auth $auth$with_extensions, $(nproc) cores:"
printf '  %s\n' "${results[@]}"
if ((extensions == 0)); then
  echo "targets with RSA signatures: at least 500 events/s on PostgreSQL, 400 on SQLite"
else
  echo "target with three extensions attached: at least 200 events/s on PostgreSQL"
fi
