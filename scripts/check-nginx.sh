#!/usr/bin/env bash
# The shipped nginx configuration, as shipped: renders deploy/nginx/snodo.conf.template with a
# self-signed certificate from deploy/nginx/selfsigned.sh, checks it with `nginx -t` (Debian's
# nginx), then runs it in front of a real `snodo serve` and asks through it what a load balancer,
# a browser and a monitoring system ask. Needs nginx, openssl, curl and a built snodo
# (SNODO_BIN, default target/debug/snodo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
snodo="${SNODO_BIN:-$root/target/debug/snodo}"
[ -x "$snodo" ] || { echo "no snodo binary at $snodo (cargo build -p snodo-cli)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx missing: apt-get install nginx" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up_port=$(free_port); http_port=$(free_port); https_port=$(free_port)

# snodo, with no sources, trusting nginx on loopback
mkdir -p "$work/data"
cat > "$work/snodo.toml" <<TOML
[storage]
data_dir = "$work/data"

[server]
listen = "127.0.0.1:$up_port"
trusted_proxies = ["127.0.0.1", "::1"]
admin_token = "check-nginx-token"

[log]
level = "warn"
TOML
"$snodo" --config "$work/snodo.toml" serve >"$work/snodo.log" 2>&1 &
pids+=($!)

# the shipped template, rendered as an operator would
deploy/nginx/selfsigned.sh "$work/tls" localhost
mkdir -p "$work/cache" && chmod 777 "$work/cache"
SNODO_UPSTREAM="127.0.0.1:$up_port" SNODO_SERVER_NAME=localhost \
  SNODO_TLS_CERT="$work/tls/snodo.crt" SNODO_TLS_KEY="$work/tls/snodo.key" \
  SNODO_HTTP_PORT="$http_port" SNODO_HTTPS_PORT="$https_port" SNODO_NGINX_CACHE="$work/cache/snodo" \
  deploy/nginx/render.sh > "$work/snodo.conf"
# a main configuration like Debian's, with the rendered file where conf.d would include it
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
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
echo "== nginx -t ($(nginx -v 2>&1))"
nginx -t -c "$work/nginx.conf" 2>&1 | tee "$work/t.log"
grep -q "test is successful" "$work/t.log"
nginx -c "$work/nginx.conf"

for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$up_port/status" && break; sleep 0.2; done
fail() { echo "FAIL: $*" >&2; echo "--- nginx error.log"; cat "$work/error.log" >&2; echo "--- snodo log"; tail -20 "$work/snodo.log" >&2; exit 1; }
https="https://localhost:$https_port"
c() { curl -sS --resolve "localhost:$https_port:127.0.0.1" --cacert "$work/tls/snodo.crt" "$@"; }

echo "== /status through nginx, plain HTTP (load balancers) and HTTPS"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/status")
[ "$code" = 200 ] || fail "plain /status answered $code"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$http_port/?q=bilancio")
[[ "$loc" == https://*"/?q=bilancio" ]] || fail "plain HTTP does not redirect to HTTPS: '$loc'"
out=$(c -o /dev/null -w '%{http_code} %{http_version}' "$https/status")
[ "$out" = "200 2" ] || fail "/status over HTTPS: '$out' (want 200 over HTTP/2)"

echo "== the page and the API, compressed, with the security headers"
h=$(c -D - -o /dev/null -H 'Accept-Encoding: gzip' "$https/")
grep -qi '^content-encoding: gzip' <<<"$h" || fail "the page is not compressed: $h"
grep -qi '^strict-transport-security:' <<<"$h" || fail "no HSTS"
grep -qi '^content-security-policy:' <<<"$h" || fail "no CSP from snodo"
code=$(c -o /dev/null -w '%{http_code}' "$https/api/v1/search?q=bilancio")
[ "$code" = 200 ] || fail "search answered $code"

echo "== /widget.js cached by nginx"
c -o /dev/null "$https/widget.js"
x=$(c -D - -o /dev/null "$https/widget.js" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
[ "$x" = HIT ] || fail "widget.js second request X-Cache '$x' (want HIT)"
cc=$(c -D - -o /dev/null "$https/widget.js" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-control"{print $2}')
[[ "$cc" == *max-age=* ]] || fail "widget.js has no caching header: '$cc'"

echo "== the pinned widget (/embed's snippet) cached by nginx, immutable"
pinned=$(c "$https/embed" | grep -o 'data-src="[^"]*"' | sed 's/data-src="//; s/"$//')
[[ "$pinned" == /widget/*.js ]] || fail "no pinned widget address on /embed: '$pinned'"
c -o /dev/null "$https$pinned"
h=$(c -D - -o /dev/null "$https$pinned" | tr -d '\r')
x=$(awk -F': ' 'tolower($1)=="x-cache"{print $2}' <<<"$h")
[ "$x" = HIT ] || fail "$pinned second request X-Cache '$x' (want HIT)"
grep -qi '^cache-control: .*immutable' <<<"$h" || fail "$pinned is not immutable"

echo "== /metrics for the monitoring network (allowed by nginx from loopback; a claimed"
echo "   X-Forwarded-For changes nothing, nginx decides on the connection's address)"
code=$(c -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.9' "$https/metrics")
[ "$code" = 200 ] || fail "/metrics from loopback answered $code"
grep -q '^# HELP snodo_http_requests_total' <<<"$(c "$https/metrics")" || fail "metrics without HELP"

echo "== the operators' console through nginx: the browser's login prompt, then the table"
code=$(c -o /dev/null -w '%{http_code}' "$https/admin")
[ "$code" = 401 ] || fail "/admin without the token answered $code (want 401 from snodo)"
grep -q '<h1>Snodo console</h1>' <<<"$(c -u operatore:check-nginx-token "$https/en/admin")" \
  || fail "/en/admin with the token does not show the console"

echo "== oversized requests stop at nginx"
code=$(c -o /dev/null -w '%{http_code}' -X POST --data-binary @<(head -c 20000 /dev/zero) "$https/api/v1/sources/x/harvest")
[ "$code" = 413 ] || fail "a 20 KB body answered $code (want 413)"

echo "nginx in front of snodo: all checks passed"
