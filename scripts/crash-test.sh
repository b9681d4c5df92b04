#!/usr/bin/env bash
# Crash test: SIGKILL `snodo demo` (sample platforms on loopback → harvest → store → index →
# serve) at random points, many times over the same data directory, then check that
#   1. SQLite passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`;
#   2. no record is stored twice (by id, and by (source, kind, upstream id));
#   3. the index, once reopened (it catches up from the change log), holds each live record
#      exactly once, and search answers equal those of a clean rebuild (`snodo reindex`).
# Every ROUND iterations the data directory starts over, so first harvests (the most writing)
# are killed again and again.
#
#   scripts/crash-test.sh            # long mode: 50 kills
#   CI=true scripts/crash-test.sh    # short mode: 8 kills
#   N=200 ROUND=20 scripts/crash-test.sh
#
# Needs the sqlite3 CLI (Debian package sqlite3). SNODO_BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-serve.sh

if [ "${CI:-}" = true ] || [ "${1:-}" = --short ]; then N=${N:-8}; else N=${N:-50}; fi
ROUND=${ROUND:-10}
command -v sqlite3 >/dev/null || { echo "crash test: needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 2; }
bin=$(snodo_bin)
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
fail=0
checks=0

check() { # DATA_DIR: the three checks above
  local dir=$1 db="$1/snodo.sqlite3" cfg ic fk dups live found rebuilt
  [ -f "$db" ] || { echo "  (no database yet)"; return 0; }
  checks=$((checks + 1))
  ic=$(sqlite3 "$db" 'PRAGMA integrity_check;')
  fk=$(sqlite3 "$db" 'PRAGMA foreign_key_check;' | wc -l)
  dups=$(sqlite3 "$db" 'SELECT COUNT(*) FROM (SELECT source, kind, upstream_id FROM records GROUP BY 1, 2, 3 HAVING COUNT(*) > 1);')
  live=$(sqlite3 "$db" 'SELECT COUNT(*) FROM records WHERE gone_at IS NULL;')
  if [ "$ic" != ok ] || [ "$fk" != 0 ] || [ "$dups" != 0 ]; then
    echo "  FAIL store: integrity=$ic foreign_key_problems=$fk duplicates=$dups"; fail=1; return
  fi
  cfg=$(serve_config "$dir" '')
  # Opening catches the index up from the change log; every search answer, sorted by id.
  found=$("$bin" --config "$cfg" search --limit 100 --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], *sorted(i["id"] for i in d["items"]))')
  rm -rf "$dir.copy"; cp -a "$dir" "$dir.copy"
  "$bin" --config "$(serve_config "$dir.copy" '')" reindex >/dev/null 2>&1
  rebuilt=$("$bin" --config "$(serve_config "$dir.copy" '')" search --limit 100 --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], *sorted(i["id"] for i in d["items"]))')
  if [ "${found%% *}" != "$live" ]; then
    echo "  FAIL index: $live live records in the store, ${found%% *} in the index"; fail=1
  elif [ "$found" != "$rebuilt" ]; then
    echo "  FAIL index: search differs from a clean rebuild"; fail=1
  else
    echo "  ok: integrity ok, $live live records, no duplicates, index equals a clean rebuild"
  fi
}

dir="$work/data"
for i in $(seq 1 "$N"); do
  if [ $(( (i - 1) % ROUND )) = 0 ]; then
    [ "$i" = 1 ] || check "$dir"
    rm -rf "$dir" "$dir.copy"
  fi
  # A random point: 50 ms to DELAY_MAX s after start (start-up, migrations, harvest, indexing,
  # serving). The demo's harvest takes about a second, so most kills land in it.
  delay=$(python3 -c "import random; print(round(random.uniform(0.05, ${DELAY_MAX:-2.0}), 2))")
  port=$(free_port)
  "$bin" demo --listen "127.0.0.1:$port" --data-dir "$dir" >"$work/demo.log" 2>&1 &
  pid=$!
  sleep "$delay"
  phase=$(grep -o -E 'harvest|index|listening' "$work/demo.log" | tail -1 || true)
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "kill $i/$N after ${delay}s (last seen: ${phase:-start-up})"
done
check "$dir"
echo "crash test: $N kills, $checks checks"
if [ $fail = 0 ]; then echo "crash test: ok"; else echo "crash test: FAILED"; fi
exit $fail
