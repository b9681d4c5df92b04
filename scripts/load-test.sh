#!/usr/bin/env bash
# Load test: wrk with 64 connections against `snodo serve` (rate limiting off) over the demo's
# data while harvests write to the same store and index, then reports p50/p99 latency, request
# rate and errors (non-2xx/3xx answers and socket errors), and fails when there are errors or
# p99 > 10 × p50 (issue 7's bar).
#
#   scripts/load-test.sh            # long mode: 60 s per endpoint
#   CI=true scripts/load-test.sh    # short mode: 10 s per endpoint
#   HARVEST=0 scripts/load-test.sh  # baseline without harvests
#   CACHE=1024 scripts/load-test.sh # with the search answer cache on (off by default here)
#
# Needs wrk (Debian package wrk). SNODO_BIN picks the binary (use a release build for figures:
# SNODO_BIN=target/release/snodo). Traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-serve.sh

if [ "${CI:-}" = true ] || [ "${1:-}" = --short ]; then secs=${SECS:-10}; else secs=${SECS:-60}; fi
command -v wrk >/dev/null || { echo "load test: needs wrk (apt-get install wrk)" >&2; exit 2; }
bin=$(snodo_bin)
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# The demo serves its sample platforms and harvests them into $work/data; keep it running as the
# upstream and re-harvest it through the admin endpoint during the load.
port=$(free_port)
"$bin" demo --listen "127.0.0.1:$port" --data-dir "$work/demo" >"$work/demo.log" 2>&1 &
demo_pid=$!
wait_listening "$work/demo.log" "$demo_pid" >/dev/null
# The demo's sample platforms' addresses, from its log, become sources of the server under load.
mapfile -t urls < <(grep 'sample Decidim platform started' "$work/demo.log" | grep -o -E 'http://127\.0\.0\.1:[0-9]+' | head -3)
[ "${#urls[@]}" -gt 0 ] || { echo "load test: no sample platform found in the demo log" >&2; exit 2; }
cfg="$work/load.toml"
{
  # The answer cache is off unless CACHE says otherwise: every request searches, so the
  # figures are the index's own under concurrent writes.
  printf '[storage]\ndata_dir = "%s"\n\n[server]\nrate_limit_per_minute = 0\nadmin_token = "load-test"\nsearch_cache_entries = %s\n\n' "$work/data" "${CACHE:-0}"
  printf '[harvest]\nmin_delay_ms = 0\njitter_secs = 0\nschedule = "0 0 3 1 1 *"\n\n[log]\nlevel = "warn"\n\n'
  n=0
  for u in "${urls[@]}"; do
    n=$((n + 1))
    printf '[[sources]]\nid = "s%d"\nname = "Sample %d"\nkind = "decidim"\nurl = "%s"\n\n' "$n" "$n" "$u"
  done
} >"$cfg"
"$bin" --config "$cfg" harvest >/dev/null
sport=$(free_port)
"$bin" --config "$cfg" serve --listen "127.0.0.1:$sport" >"$work/serve.log" 2>&1 &
serve_pid=$!
base=$(wait_listening "$work/serve.log" "$serve_pid")

# Harvests in a loop during the load: one trigger per source every second (409 while running).
# HARVEST=0 leaves them out, for a baseline.
[ "${HARVEST:-1}" = 0 ] || (
  end=$((SECONDS + 3 * secs + 10))
  while [ $SECONDS -lt $end ]; do
    for n in $(seq 1 "${#urls[@]}"); do
      curl -s -o /dev/null -X POST -H 'Authorization: Bearer load-test' "$base/api/v1/sources/s$n/harvest" || true
    done
    sleep 1
  done
) &

cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors, summary.errors.status))
end
LUA

fail=0
run() { # NAME PATH
  local name=$1 path=$2 line p50 p99 errors
  line=$(wrk -t2 -c64 -d"${secs}s" --timeout 10s --latency -s "$work/report.lua" "$base$path" | grep '^RESULT')
  echo "$name: ${line#RESULT }"
  p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
  errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  if [ "$errors" != 0 ]; then echo "  FAIL: $errors errors"; fail=1; fi
  if python3 -c "import sys; sys.exit(0 if $p99 > 10 * $p50 else 1)"; then
    echo "  FAIL: p99 $p99 ms > 10 × p50 $p50 ms"; fail=1
  fi
}
echo "== wrk, 64 connections, ${secs}s each, harvests $([ "${HARVEST:-1}" = 0 ] && echo off || echo running) ($base)"
run "search (text)" "/api/v1/search?q=partecipazione&limit=20"
run "search (filters)" "/api/v1/search?status=open&sort=closing&limit=20"
run "record list + facets" "/api/v1/search?limit=100"
runs=$(curl -s "$base/api/v1/sources/s1/runs?limit=100" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "harvest runs of s1 during the test: $runs"
grep -i -E 'panicked|error' "$work/serve.log" | head -5 || true
if [ $fail = 0 ]; then echo "load test: ok"; else echo "load test: FAILED"; fi
exit $fail
