#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests, from Debian's packages (postgresql).
#   scripts/pg.sh start   initdb (once) and start; prints the URL to export as
#                         SNODO_TEST_DATABASE_URL (tests create a database of their own on it)
#   scripts/pg.sh stop    stop it
#   scripts/pg.sh clean   drop the databases tests left behind (each leaves its own, to read after
#                         a failure; 28 GB had piled up on a developer's machine) that nothing is
#                         connected to. Not done by `start`: a test restarts the server under a
#                         running Snodo, whose database must survive.
# SNODO_PG_DIR (default /tmp/snodo-pg) and SNODO_PG_PORT (default 55432) choose where. fsync is
# off: the data is thrown away, and the tests measure behaviour, not durability; benchmarks set
# SNODO_PG_DURABLE=1 for PostgreSQL's own durable defaults.
set -euo pipefail
DIR=${SNODO_PG_DIR:-/tmp/snodo-pg}
PORT=${SNODO_PG_PORT:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ]; then
  echo "PostgreSQL's server is not installed: apt-get install postgresql" >&2
  exit 1
fi
# initdb refuses to run as root: as root, run the server as Debian's postgres user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}
case ${1:-start} in
start)
  if [ ! -s "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
    chmod 700 "$DIR"
    as_owner "'$BIN/initdb' -D '$DIR' -U snodo --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
  fi
  fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${SNODO_PG_DURABLE:-}" = 1 ] && fast=""
  if ! as_owner "'$BIN/pg_ctl' -D '$DIR' status >/dev/null 2>&1"; then
    as_owner "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -t 60 start \
      -o '-h 127.0.0.1 -p $PORT -k $DIR $fast -c max_connections=400' >/dev/null"
  fi
  echo "postgres://snodo@127.0.0.1:$PORT/postgres"
  ;;
clean)
  PSQL="$BIN/psql -h 127.0.0.1 -p $PORT -U snodo -d postgres -qAt"
  for db in $($PSQL -c "SELECT datname FROM pg_database WHERE datname ~ '^snodo_(store|e2e)_'"); do
    # One in use (a test run going on beside this one) refuses to go: left to the next clean.
    $PSQL -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done
  ;;
stop)
  as_owner "'$BIN/pg_ctl' -D '$DIR' -m fast -w stop >/dev/null"
  ;;
*)
  echo "usage: scripts/pg.sh start|stop|clean" >&2
  exit 2
  ;;
esac
