#!/usr/bin/env bash
# Installs and starts what the test suite needs, then exits; safe to run again (it does only
# what is missing): OpenSSL's headers and pkg-config (psi-server signs webhooks with OpenSSL),
# PostgreSQL on 127.0.0.1:5432 with a `test` database, Debian's Chromium, the Node packages of
# the browser tests (ssi-auth-lib and jsdom for the SSI OAuth test among them) and of the Standard
# Webhooks tests, and the Python packages the receiver examples and Standard Webhooks tests
# import. Needs root or sudo for apt-get.
#
#   bash tests/setup.sh && cargo test --workspace
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  log "starting PostgreSQL"
  apt_install postgresql postgresql-client
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    pg_createcluster "$ver" main >/dev/null
  fi
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # Tests connect over loopback without a password, as on the development machines.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
}

ensure_test_database() {
  psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "create database test"
}

apt_install pkg-config libssl-dev postgresql-client chromium
command -v npm >/dev/null || apt_install nodejs npm
start_postgres
ensure_test_database

log "npm ci (tests/browser, tests/standard-webhooks)"
for dir in tests/browser tests/standard-webhooks; do
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
done
log "pip install (the receiver example's and the Standard Webhooks tests' requirements)"
python3 -m pip install --quiet --disable-pip-version-check \
  -r examples/python-receiver/requirements.txt -r tests/standard-webhooks/requirements.txt
log "ready: cargo test --workspace"
