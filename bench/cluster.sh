#!/usr/bin/env bash
# Beyond one machine, measured: the store loaded into PostgreSQL against SQLite, the lag from a
# harvest batch's commit to search on an API replica (over HTTP), and search throughput through
# nginx with one API replica against two, on this one machine.
#
#   bench/cluster.sh [RECORDS]        default: 100000
#
# Env: WORK (default /tmp/snodo-cluster-bench), DURATION (wrk seconds, default 20), CHANGES
# (lag probes, default 200), SNODO_BIN (default target/release/snodo). The realistic corpus,
# search cache off, rate limit off. Needs PostgreSQL's server, nginx, wrk and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
work=${WORK:-/tmp/snodo-cluster-bench}
duration=${DURATION:-20}
changes=${CHANGES:-200}
cargo build --release -p snodo-bench -p snodo-cli >/dev/null 2>&1
bench=target/release/snodo-bench
snodo=${SNODO_BIN:-target/release/snodo}
rm -rf "$work"; mkdir -p "$work"; chmod 755 "$work"
pids=()
# PostgreSQL with its durable defaults (fsync on), like SQLite's WAL with synchronous=NORMAL.
pg() { SNODO_PG_DURABLE=1 SNODO_PG_DIR="$work/pg" SNODO_PG_PORT=55499 scripts/pg.sh "$@"; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  pg stop 2>/dev/null || true
}
trap cleanup EXIT
admin=$(pg start)
newdb() { psql -q "$admin" -c "CREATE DATABASE $1" >/dev/null; echo "${admin%/postgres}/$1"; }

echo "## Machine"; echo; echo '```'; lscpu | grep -E 'Model name|^CPU\(s\)'; psql -At "$admin" -c 'select version()'; echo '```'

echo; echo "### Loading $n records (realistic corpus), then the same records again"; echo '```'
mkdir -p "$work/sqlite"
/usr/bin/time -f "  (process: wall %e s, peak RSS %M KiB)" "$bench" store-load --records "$n" --data-dir "$work/sqlite" 2>&1
db=$(newdb snodo)
/usr/bin/time -f "  (process: wall %e s, peak RSS %M KiB)" "$bench" store-load --records "$n" --database-url "$db" 2>&1
echo '```'

replica() { # name port
  mkdir -p "$work/$1"
  printf '[storage]\ndata_dir = "%s"\ndatabase_url = "%s"\n\n[server]\nrate_limit_per_minute = 0\nsearch_cache_entries = 0\n\n[log]\nlevel = "warn"\n' \
    "$work/$1" "$db" > "$work/$1.toml"
  "$snodo" --config "$work/$1.toml" serve --role api --listen "127.0.0.1:$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 3000); do
    curl -fs -o /dev/null "http://127.0.0.1:$2/status" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "replica $1 stopped:" >&2; tail -3 "$work/$1.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "replica $1 did not start" >&2; exit 1
}
started=$(date +%s.%N)
replica a1 18181
echo; echo "A new replica built its index from PostgreSQL and answered /status in $(echo "$(date +%s.%N) - $started" | bc) s."
replica a2 18182

echo; echo "### Commit to searchable on a replica ($changes one-record batches, 200 ms apart)"; echo '```'
"$bench" follow-lag --database-url "$db" --addr 127.0.0.1:18181 --changes "$changes"
echo '```'

echo; echo "### wrk through nginx, 64 connections, ${duration} s, the citizen query mix, cache off"
"$bench" wrk-lua --records "$n" --out "$work/mix.lua"
deploy/nginx/selfsigned.sh "$work/tls" localhost >/dev/null 2>&1
mkdir -p "$work/cache" && chmod 777 "$work/cache"
nginx_with() { # upstream list
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null && sleep 0.5
  SNODO_UPSTREAM="$1" SNODO_SERVER_NAME=localhost SNODO_TLS_CERT="$work/tls/snodo.crt" \
    SNODO_TLS_KEY="$work/tls/snodo.key" SNODO_HTTP_PORT=18280 SNODO_HTTPS_PORT=18443 \
    SNODO_NGINX_CACHE="$work/cache/snodo" deploy/nginx/render.sh > "$work/snodo.conf"
  cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
    include $work/snodo.conf;
}
CONF
  nginx -c "$work/nginx.conf"
  sleep 0.5
}
for ups in "127.0.0.1:18181" "127.0.0.1:18181 127.0.0.1:18182"; do
  nginx_with "$ups"
  wrk -t2 -c64 -d5s -s "$work/mix.lua" https://localhost:18443 >/dev/null 2>&1 || true
  echo; echo "upstream: $ups"; echo '```'
  wrk -t2 -c64 -d"${duration}s" --latency -s "$work/mix.lua" https://localhost:18443 | grep -E 'Requests/sec|Non-2xx|Socket errors|^ +(50|99)%'
  echo '```'
done
echo; echo "One replica directly (no nginx):"; echo '```'
wrk -t2 -c64 -d"${duration}s" --latency -s "$work/mix.lua" http://127.0.0.1:18181 | grep -E 'Requests/sec|Non-2xx|Socket errors|^ +(50|99)%'
echo '```'
