#!/usr/bin/env bash
# The whole test suite: Rust unit, integration and end-to-end tests — on SQLite, then the
# end-to-end suite again with the store on PostgreSQL — then the widget's browser tests (headless
# Chromium driving a real `snodo demo` over loopback).
#
# PostgreSQL: SNODO_TEST_DATABASE_URL if set, else a throwaway server started by scripts/pg.sh
# when Debian's postgresql is installed (.ci/run installs it); without either, the PostgreSQL
# halves are skipped with a message (never in CI, where CI=true makes them fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SNODO_TEST_DATABASE_URL:-}" ] && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  SNODO_TEST_DATABASE_URL=$(scripts/pg.sh start)
  export SNODO_TEST_DATABASE_URL
  # The databases earlier runs of the suite left on this server.
  scripts/pg.sh clean
fi
cargo test --workspace --locked
if [ -n "${SNODO_TEST_DATABASE_URL:-}" ]; then
  SNODO_TEST_BACKEND=postgres cargo test --locked -p snodo-cli --tests
else
  echo "PostgreSQL not available: the end-to-end suite ran on SQLite only" >&2
fi
cargo build --locked -p snodo-cli
if [ ! -d widget/node_modules ]; then
  (cd widget && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd widget && SNODO_BIN="$PWD/../target/debug/snodo" npm test)
