#!/usr/bin/env bash
# The whole benchmark: Snodo vs SQLite FTS5 vs PostgreSQL, then HTTP throughput with wrk.
#
#   bench/run.sh [RECORDS ...]        default: 100000
#
# Env: REPS (timed runs per query, default 5), WORK (default /tmp/snodo-bench), DURATION (wrk
# seconds, default 30), SNODO_BIN (a prebuilt `snodo`, default target/release/snodo),
# SKIP_PG=1 to leave PostgreSQL out, CORPUS=realistic (default: text like real records) or
# template (the first corpus). Results: $WORK/N/*.json and markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-100000}")
reps=${REPS:-5}
work=${WORK:-/tmp/snodo-bench}
duration=${DURATION:-30}
corpus=${CORPUS:-realistic}
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -n "${SKIP_PG:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release -p snodo-bench
bench=target/release/snodo-bench
snodo=${SNODO_BIN:-target/release/snodo}
[ -x "$snodo" ] || cargo build --release -p snodo-cli
engines=(snodo fts5)
if [ -z "${SKIP_PG:-}" ]; then bench/scripts/pg.sh start; engines+=(pg); fi

echo "## Machine"
echo; echo '```'; lscpu | grep -E 'Model name|^CPU\(s\)'; free -g | head -2; uname -r; echo '```'

for n in "${sizes[@]}"; do
  dir="$work/$n"; mkdir -p "$dir"
  files=()
  for e in "${engines[@]}"; do
    # One process per engine, so that peak RSS is the engine's own.
    "$bench" run --corpus "$corpus" --records "$n" --engines "$e" --reps "$reps" --work "$dir" --out "$dir/$e.json" >/dev/null
    files+=("$dir/$e.json")
  done
  "$bench" report "${files[@]}"

  # Full reindex from SQLite with the real binary, and HTTP throughput against `snodo serve`,
  # with the answer cache (repeated searches from memory) and without it (every request searches).
  config() {
    printf '[storage]\ndata_dir = "%s"\n\n[server]\nlisten = "127.0.0.1:18080"\nrate_limit_per_minute = 0\nsearch_cache_entries = %s\n\n[log]\nlevel = "warn"\n' "$dir/snodo-data" "$1" > "$dir/snodo-$1.toml"
    echo "$dir/snodo-$1.toml"
  }
  echo; echo "#### snodo reindex, $n records"; echo '```'
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$snodo" --config "$(config 1024)" reindex 2>&1 | tail -2
  echo '```'
  echo; echo "#### queries with no match, in the engine, $n records"; echo '```'
  "$bench" engine --data-dir "$dir/snodo-data" "xqzvwkjh " "zzyzx " "qwxzrtplm " "bilancio xqzvwkjh "
  echo '```'
  echo; echo "#### corpus statistics ($corpus, first 20,000 records)"; echo '```'
  [ "$corpus" = realistic ] && "$bench" stats --records 20000
  echo '```'
  "$bench" wrk-lua --corpus "$corpus" --records "$n" --out "$dir/mix.lua"
  for cache in 1024 0; do
    "$snodo" --config "$(config $cache)" serve >"$dir/serve-$cache.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:18080/status && break; sleep 0.2; done
    # Warm up, then measure.
    wrk -t2 -c64 -d5s -s "$dir/mix.lua" http://127.0.0.1:18080 >/dev/null
    echo; echo "#### wrk, 64 connections, $n records, search_cache_entries = $cache"; echo '```'
    wrk -t2 -c64 -d"${duration}s" --latency -s "$dir/mix.lua" http://127.0.0.1:18080 | grep -v '^status 200' | head -40
    grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
    echo '```'
    if [ "$cache" = 0 ]; then
      # The citizen query mix, 20 results with facets and snippets, one keep-alive client.
      echo; echo "#### the query mix over HTTP, $n records, one client, search_cache_entries = 0"; echo
      "$bench" http --corpus "$corpus" --mix citizen --records "$n" --addr 127.0.0.1:18080 --reps "$reps" --out "$dir/http-citizen.json"
      # "Near me": place, topic, method and date filters, one keep-alive client, cache off.
      echo; echo "#### near-me searches over HTTP, $n records, one client, search_cache_entries = 0"; echo
      "$bench" http --corpus "$corpus" --addr 127.0.0.1:18080 --reps "$reps" --out "$dir/http-near-me.json"
    fi
    kill "$pid"; wait "$pid" || true
  done
  # The corpus harvested through the json connector by `snodo harvest`, twice (the second time
  # every page answers 304): time, peak RSS, store and index on disk.
  echo; echo "#### harvest through the json connector, $n records, 90 sources"; echo '```'
  "$bench" harvest --corpus "$corpus" --records "$n" --sources 90 --work "$dir/harvest" --snodo "$snodo"
  echo '```'
  # Whether storing costs more in a large store: the last tenth of the sources harvested into an
  # empty store and into one holding the other nine tenths, alternately, twice each.
  echo; echo "#### the last tenth of $n records, into an empty store and into the rest"; echo '```'
  "$bench" harvest --corpus "$corpus" --records "$n" --sources 90 --work "$dir/harvest" --snodo "$snodo" --growth 2
  echo '```'
done
[ -n "${SKIP_PG:-}" ] || bench/scripts/pg.sh stop
