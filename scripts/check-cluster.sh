#!/usr/bin/env bash
# The clustered deployment as shipped (deploy/compose.cluster.yaml, without containers): a real
# PostgreSQL (scripts/pg.sh), two `snodo serve --role harvester`, two `--role api`, and nginx
# from deploy/nginx/snodo.conf.template rendered for them. It checks what a load balancer, a
# citizen and an operator see: `nginx -t`, /status through nginx, a harvest triggered through
# nginx (retried until the leader takes it), search while one replica is killed, and that the
# compose file names the same services and variables. Needs nginx, curl, openssl, python3 with
# PyYAML, PostgreSQL's server and a built snodo (SNODO_BIN, default target/debug/snodo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
snodo="${SNODO_BIN:-$root/target/debug/snodo}"
[ -x "$snodo" ] || { echo "no snodo binary at $snodo (cargo build -p snodo-cli)" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
pids=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)
pg() { SNODO_PG_DIR="$work/pg" SNODO_PG_PORT=$pg_port scripts/pg.sh "$@"; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  pg stop 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done
  exit 1
}

echo "== the compose file and the template agree"
python3 - <<'PY'
import re, yaml
c = yaml.safe_load(open("deploy/compose.cluster.yaml"))
s = c["services"]
roles = {n: v.get("command") for n, v in s.items() if n.startswith(("api-", "harvester-"))}
assert roles == {"harvester-1": ["serve", "--role", "harvester"], "harvester-2": ["serve", "--role", "harvester"],
                 "api-1": ["serve", "--role", "api"], "api-2": ["serve", "--role", "api"]}, roles
env = s["nginx"]["environment"]
template = open("deploy/nginx/snodo.conf.template").read()
used = set(re.findall(r"\$\{(SNODO_[A-Z_]+)\}", template))
assert used <= set(env), f"the template needs {sorted(used - set(env))}"
for name, var in (("api", "SNODO_UPSTREAM_SERVERS"), ("harvester", "SNODO_ADMIN_SERVERS")):
    named = re.findall(r"server ([a-z0-9-]+):8080", env[var])
    assert sorted(named) == sorted(n for n in roles if n.startswith(name)), (var, named)
assert "SNODO_DATABASE_URL" in s["api-1"]["environment"]
print("compose.cluster.yaml: 2 api replicas and 2 harvesters behind nginx, on PostgreSQL")
PY

echo "== PostgreSQL on loopback"
db=$(pg start)
echo "$db"

echo "== a platform to harvest: an Atom feed on loopback"
mkdir -p "$work/site"
cat > "$work/site/feed.atom" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Consultazioni del Comune</title>
  <id>urn:snodo:check-cluster</id>
  <updated>2026-11-01T08:00:00Z</updated>
  <entry>
    <title>Consultazione sul verde urbano di quartiere</title>
    <id>urn:snodo:check-cluster:1</id>
    <link href="http://127.0.0.1/consultazioni/verde"/>
    <updated>2026-11-01T08:00:00Z</updated>
    <summary>Come vorresti i giardini del quartiere? Partecipa alla consultazione pubblica.</summary>
  </entry>
</feed>
XML
site_port=$(free_port)
(cd "$work/site" && exec python3 -m http.server "$site_port" --bind 127.0.0.1 >"$work/site.log" 2>&1) &
pids+=($!)

cat > "$work/snodo.toml" <<TOML
[storage]
database_url = "$db"

[server]
admin_token = "check-cluster-token"
trusted_proxies = ["127.0.0.1", "::1"]
rate_limit_per_minute = 0

[harvest]
min_delay_ms = 0
jitter_secs = 0

[log]
level = "warn"

[[sources]]
id = "comune"
name = "Comune di prova"
kind = "feed"
url = "http://127.0.0.1:$site_port/feed.atom"
territory = "IT"
schedule = "0 0 0 1 1 *"
TOML

start() { # role name port
  "$snodo" --config "$work/snodo.toml" serve --role "$1" --listen "127.0.0.1:$3" \
    >"$work/$2.log" 2>&1 &
  pids+=($!)
  eval "pid_$2=$!"
}
declare -A port
for n in h1 h2 a1 a2; do port[$n]=$(free_port); done
for n in h1 h2; do SNODO_DATA_DIR="$work/$n" start harvester "$n" "${port[$n]}"; done
for n in a1 a2; do SNODO_DATA_DIR="$work/$n" start api "$n" "${port[$n]}"; done
for n in h1 h2 a1 a2; do
  for _ in $(seq 1 150); do curl -fs -o /dev/null "http://127.0.0.1:${port[$n]}/status" && break; sleep 0.2; done
  curl -fs -o /dev/null "http://127.0.0.1:${port[$n]}/status" || fail "$n does not answer /status"
done

echo "== nginx in front: the API replicas, the harvesters for triggers"
deploy/nginx/selfsigned.sh "$work/tls" localhost >/dev/null
mkdir -p "$work/cache" && chmod 777 "$work/cache"
http_port=$(free_port); https_port=$(free_port)
SNODO_UPSTREAM="127.0.0.1:${port[a1]} 127.0.0.1:${port[a2]}" \
  SNODO_ADMIN_UPSTREAM="127.0.0.1:${port[h1]} 127.0.0.1:${port[h2]}" SNODO_SERVER_NAME=localhost \
  SNODO_TLS_CERT="$work/tls/snodo.crt" SNODO_TLS_KEY="$work/tls/snodo.key" \
  SNODO_HTTP_PORT="$http_port" SNODO_HTTPS_PORT="$https_port" SNODO_NGINX_CACHE="$work/cache/snodo" \
  deploy/nginx/render.sh > "$work/snodo.conf"
[ "$(grep -o "server 127.0.0.1:[0-9]* max_fails=1" "$work/snodo.conf" | wc -l)" = 4 ] || fail "render.sh did not write four upstream servers"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $work/access.log;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    include $work/snodo.conf;
}
CONF
nginx -t -c "$work/nginx.conf" 2>&1 | tee "$work/t.txt"
grep -q "test is successful" "$work/t.txt" || fail "nginx -t"
nginx -c "$work/nginx.conf"
https="https://localhost:$https_port"
c() { curl -sS --resolve "localhost:$https_port:127.0.0.1" --cacert "$work/tls/snodo.crt" "$@"; }

echo "== the first harvest (the leader's start-up run) is searchable through nginx"
found=""
for _ in $(seq 1 100); do
  # The answer is read whole before grep: `grep -q` stops at its match, and under pipefail the
  # writer's SIGPIPE would fail a check that matched.
  if grep -q '"total":1' <<<"$(c "$https/api/v1/search?q=giardini" || true)"; then found=1; break; fi
  sleep 0.2
done
[ -n "$found" ] || fail "the harvested entry is not searchable through nginx"
leaders=0
for n in h1 h2; do
  if grep -qx 'snodo_harvest_leader 1' <<<"$(curl -fs "http://127.0.0.1:${port[$n]}/metrics" || true)"; then
    leaders=$((leaders + 1))
  fi
done
[ "$leaders" = 1 ] || fail "$leaders harvesters lead (want exactly 1)"

echo "== a trigger through nginx reaches the leader, whichever harvester nginx asks first"
started=0
for i in 1 2 3 4; do
  code=$(c -o "$work/trigger.json" -w '%{http_code}' -X POST -H 'Authorization: Bearer check-cluster-token' \
    "$https/api/v1/sources/comune/harvest")
  # 409: the previous trigger's run is still going; anything else is wrong.
  [ "$code" = 202 ] || [ "$code" = 409 ] || fail "trigger $i answered $code: $(cat "$work/trigger.json")"
  [ "$code" = 202 ] && started=$((started + 1))
  sleep 1
done
[ "$started" -ge 3 ] || fail "only $started of 4 triggers started a run"

echo "== one API replica killed: nginx keeps answering from the other"
kill -9 "$pid_a1"
wait "$pid_a1" 2>/dev/null || true
for i in $(seq 1 20); do
  code=$(c -o /dev/null -w '%{http_code}' "$https/api/v1/search?q=giardini")
  [ "$code" = 200 ] || fail "search $i answered $code with one replica down"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/status")
[ "$code" = 200 ] || fail "/status through nginx answered $code with one replica down"
lag=$(curl -fs "http://127.0.0.1:${port[a2]}/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index_lag_changes"])')
[ "$lag" = 0 ] || fail "the surviving replica is $lag changes behind"

echo "the clustered deployment: all checks passed"
