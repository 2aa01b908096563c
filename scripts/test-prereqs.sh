#!/usr/bin/env bash
# The binaries the test suite drives, and the Debian package that brings each one.
# `npm test` runs this first (the `pretest` script) and `.ci/run` runs it too: a missing binary is
# installed, never skipped. Add a tool a new test needs by adding one line to TOOLS.
set -euo pipefail

# binary  Debian package   (why the suite needs it)
TOOLS=(
  "mosquitto        mosquitto"   # test/helpers/mosquitto.ts starts its own brokers
  "mosquitto_passwd mosquitto"   # password files for the secured-Mosquitto tests
  "promtool         prometheus"  # observe-deploy: /metrics, alert rules and scrape config checked
  "openssl          openssl"     # test/helpers/certs.ts makes a private CA and client certificates
  "systemd-notify   systemd"     # observe-systemd drives the real binary against a fake socket
  "python3          python3"     # ... whose listener is a python3 AF_UNIX datagram socket
  "sqlite3          sqlite3"     # the README's example queries run in the stock sqlite3 CLI
  "chromium         chromium"    # the status page is tested in a real browser (test/helpers/browser.ts)
  # "psql           postgresql-client"
)

# Daemons live in sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# The forwarding tests (test/integration/forward-*.test.ts) use the machine's PostgreSQL at
# 127.0.0.1:5432 (trust auth, database `test`). Started here when it is installed but not running;
# only when pg_isready says it is down, so a server someone else runs is left alone.
start_postgres() {
  command -v pg_isready >/dev/null 2>&1 || return 0
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  echo "test-prereqs: PostgreSQL is not accepting connections on 127.0.0.1:5432: starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ]; then
    pg_ctlcluster 15 main start || true
  else
    service postgresql start || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  echo "test-prereqs: PostgreSQL did not start; the forwarding tests will fail" >&2
  return 1
}

missing_bins=()
packages=()
for line in "${TOOLS[@]}"; do
  read -r bin pkg <<<"$line"
  if ! command -v "$bin" >/dev/null 2>&1; then
    missing_bins+=("$bin")
    [[ " ${packages[*]-} " == *" $pkg "* ]] || packages+=("$pkg")
  fi
done

if [ ${#packages[@]} -eq 0 ]; then
  start_postgres
  exit 0
fi

install_cmd="apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"
echo "test-prereqs: missing ${missing_bins[*]}: installing Debian packages ${packages[*]}" >&2

if [ "$(id -u)" -ne 0 ]; then
  echo "test-prereqs: not root, cannot install. Run as root, then npm test again:" >&2
  echo "  $install_cmd" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-prereqs: no apt-get here. Install these by other means, then npm test again: ${missing_bins[*]}" >&2
  exit 1
fi

# Debian's prometheus package starts a Prometheus server on :9090 from its postinst (through
# invoke-rc.d). The tests need only promtool, so during this install services must not start:
# policy-rc.d exiting 101 is Debian's switch for that (invoke-rc.d(8)). Docker images ship one
# already; when there is none, one is put in place for the install and removed afterwards.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by mqlite scripts/test-prereqs.sh for one apt-get install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
# Other users of the machine may be running apt: wait for the lock rather than fail.
apt_opts=(-o DPkg::Lock::Timeout=300 -qq)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${packages[@]}"

if [[ " ${packages[*]} " == *" prometheus "* ]]; then
  # Nor at the next boot: only promtool is wanted.
  update-rc.d prometheus disable >/dev/null 2>&1 || true
  if command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
  fi
fi

still=()
for bin in "${missing_bins[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || still+=("$bin")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "test-prereqs: still missing after the install: ${still[*]}" >&2
  exit 1
fi
echo "test-prereqs: installed ${packages[*]}" >&2
start_postgres
