# Shared by the bench scripts (sourced, not run).

# Exits unless every named tool is on PATH; $0 names the script in the message.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 1; }
  done
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

# Builds the release `psi` and the load example $1 of psi-cli, and copies both into $work (which
# must exist): other builds sharing the target directory may replace the originals meanwhile.
# Sets $psi and $load to the copies. PSI_BIN, when set, is the psi binary to measure instead (an
# earlier build, to compare with).
build_psi_and_load() {
  local example="$1" target_dir="${CARGO_TARGET_DIR:-$root/target}"
  echo "building psi and $example (release)..." >&2
  cargo build --quiet --release -p psi-cli --bin psi --example "$example" \
    --manifest-path "$root/Cargo.toml"
  cp "${PSI_BIN:-$target_dir/release/psi}" "$work/psi"
  cp "$target_dir/release/examples/$example" "$work/"
  psi="$work/psi"
  load="$work/$example"
}
