#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 cluster on a free loopback port, exporting its
# admin URL as OPM_TEST_DATABASE_URL; the cluster is stopped and deleted when the command ends.
# Without the PostgreSQL binaries it warns loudly and runs the command without the variable,
# unless OPM_REQUIRE_POSTGRES=1, in which case it fails.
set -euo pipefail
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  if [ "${OPM_REQUIRE_POSTGRES:-0}" = "1" ]; then
    echo "error: PostgreSQL binaries not found and OPM_REQUIRE_POSTGRES=1" >&2
    exit 1
  fi
  echo "################################################################" >&2
  echo "# WARNING: PostgreSQL binaries not found: PostgreSQL tests SKIP #" >&2
  echo "################################################################" >&2
  exec "$@"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/opm-pg.XXXXXX)
as_pg() {
  if [ "$(id -u)" = "0" ]; then chown -R postgres: "$dir"; su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
cleanup() { as_pg "$PG_BIN/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$PG_BIN/initdb -D $dir/data -U postgres -A trust --no-sync -E UTF8" >/dev/null
as_pg "$PG_BIN/pg_ctl -D $dir/data -l $dir/log -w start -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300'" >/dev/null
export OPM_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL test cluster at $OPM_TEST_DATABASE_URL" >&2
set +e
"$@"
status=$?
exit $status
