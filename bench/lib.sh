# Shared by the bench scripts (sourced, not run).

# Exits unless every named tool is on PATH; $0 names the script in the message.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 1; }
  done
}

# Installs wrk (and curl) from Debian's packages when missing.
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  echo "installing wrk..." >&2
  local sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq wrk curl >/dev/null
}

# A free loopback port (the kernel picks one, the socket is closed again).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Fresh secrets for the servers under test: $admin_token and $master_key.
bench_secrets() {
  admin_token="bench-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  master_key="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
}

# The URL of database $1 on the server of $postgres_url, for psi. Without TLS (PSI_BENCH_SSLMODE,
# default disable): PostgreSQL on the same host is reached over loopback or its socket, where TLS
# only costs CPU (about a tenth of an enqueue's here), and peers measured beside psi are set up so.
bench_database_url() {
  echo "${postgres_url%/*}/$1?sslmode=${PSI_BENCH_SSLMODE:-disable}"
}

# How process $1's resident memory splits: "anonymous A MB, file F MB". The file part is mostly
# psi's own code, mapped from its binary: clean pages the kernel may drop, shared with other psi
# processes; the anonymous part is what the process allocated.
rss_split() {
  awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
       END { printf "anonymous %d MB, file %d MB", a / 1024, f / 1024 }' "/proc/$1/status"
}

# Builds the release `psi` and psi-cli's load examples. Every script builds exactly this set: a
# build without the examples resolves the dependencies' features differently and would build the
# server again.
build_release() {
  echo "building psi and the load generators (release)..." >&2
  cargo build --quiet --release -p psi-cli --bin psi --examples --manifest-path "$root/Cargo.toml"
}

# Builds (build_release), then copies the release `psi` and the load example $1 into $work (which
# must exist): other builds sharing the target directory may replace the originals meanwhile.
# Sets $psi and $load to the copies. PSI_BIN, when set, is the psi binary to measure instead (an
# earlier build, to compare with).
build_psi_and_load() {
  local example="$1" target_dir="${CARGO_TARGET_DIR:-$root/target}"
  build_release
  cp "${PSI_BIN:-$target_dir/release/psi}" "$work/psi"
  cp "$target_dir/release/examples/$example" "$work/"
  psi="$work/psi"
  load="$work/$example"
}

# One row of the table bench/all.sh prints, appended to $BENCH_RESULTS (nothing when unset):
# measure | psi's figure | what it is compared with | that figure | ratio | goal. $1 "higher" or
# "lower" says which way is better; the ratio is psi's figure over the other's, or the other's
# over psi's when lower is better, so above 1 psi is ahead. $2 measure, $3 psi's figure, $4 what
# is compared, $5 its figure, $6 unit, $7 goal (text).
result_row() {
  [[ -n "${BENCH_RESULTS:-}" ]] || return 0
  local better="$1" measure="$2" value="$3" other="$4" other_value="$5" unit="$6" goal="$7" ratio
  ratio=$(awk -v b="$better" -v p="$value" -v o="$other_value" 'BEGIN {
    if (p <= 0 || o <= 0) { print "-"; exit }
    printf "%.2f", (b == "higher" ? p / o : o / p) }')
  printf '%s|%s %s|%s|%s %s|%s|%s\n' "$measure" "$value" "$unit" "$other" "$other_value" "$unit" \
    "$ratio" "$goal" >> "$BENCH_RESULTS"
}
