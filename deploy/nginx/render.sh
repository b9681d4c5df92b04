#!/usr/bin/env bash
# Prints deploy/nginx/snodo.conf.template with its variables filled in (the environment's values,
# else these defaults). Only these variables are replaced: nginx's own ($host, …) stay.
#   deploy/nginx/render.sh > /etc/nginx/conf.d/snodo.conf && nginx -t && systemctl reload nginx
set -euo pipefail
export SNODO_UPSTREAM="${SNODO_UPSTREAM:-127.0.0.1:8080}"
export SNODO_ADMIN_UPSTREAM="${SNODO_ADMIN_UPSTREAM:-$SNODO_UPSTREAM}"
# One `server` line per address of a space- (or comma-) separated list.
servers() {
  local out="" a
  for a in ${1//,/ }; do out+="server $a max_fails=1 fail_timeout=10s; "; done
  printf '%s' "$out"
}
export SNODO_UPSTREAM_SERVERS="${SNODO_UPSTREAM_SERVERS:-$(servers "$SNODO_UPSTREAM")}"
export SNODO_ADMIN_SERVERS="${SNODO_ADMIN_SERVERS:-$(servers "$SNODO_ADMIN_UPSTREAM")}"
export SNODO_SERVER_NAME="${SNODO_SERVER_NAME:-_}"
export SNODO_TLS_CERT="${SNODO_TLS_CERT:-/etc/ssl/snodo/snodo.crt}"
export SNODO_TLS_KEY="${SNODO_TLS_KEY:-/etc/ssl/snodo/snodo.key}"
export SNODO_HTTP_PORT="${SNODO_HTTP_PORT:-80}"
export SNODO_HTTPS_PORT="${SNODO_HTTPS_PORT:-443}"
export SNODO_NGINX_CACHE="${SNODO_NGINX_CACHE:-/var/cache/nginx/snodo}"
vars='${SNODO_UPSTREAM_SERVERS} ${SNODO_ADMIN_SERVERS} ${SNODO_SERVER_NAME} ${SNODO_TLS_CERT} ${SNODO_TLS_KEY} ${SNODO_HTTP_PORT} ${SNODO_HTTPS_PORT} ${SNODO_NGINX_CACHE}'
envsubst "$vars" < "$(dirname "$0")/snodo.conf.template"
