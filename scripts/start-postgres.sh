#!/usr/bin/env bash
# Makes a PostgreSQL server answer on 127.0.0.1:5432 for the test suite's second run
# (MAILFERRY_TEST_DB=postgresql): installs Debian's postgresql when it is missing, starts
# the cluster when it is not running, and, on a fresh install, lets the local `root` role in
# over TCP from 127.0.0.1 without a password (trust: a test machine's server only). An
# already-working server is left as it is.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
URL="${MAILFERRY_TEST_PG_URL:-postgresql://root@127.0.0.1:5432/postgres}"
ok() { psql "$URL" -qAtc 'SELECT 1' >/dev/null 2>&1; }
ok && exit 0

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
ok && exit 0

# A fresh cluster: a `root` superuser, and trust for it from 127.0.0.1.
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q '^host all root 127.0.0.1/32 trust' "$hba"; then
  $SUDO sed -i '1i host all root 127.0.0.1/32 trust' "$hba"
fi
ROLE_QUERY="SELECT 1 FROM pg_roles WHERE rolname = 'root'"
$SUDO su postgres -c "psql -qAtc \"$ROLE_QUERY\" | grep -q 1 || psql -qc 'CREATE ROLE root SUPERUSER LOGIN'"
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 1 10); do ok && exit 0; sleep 1; done
echo "PostgreSQL does not answer at $URL" >&2
exit 1
