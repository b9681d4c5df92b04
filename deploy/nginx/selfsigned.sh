#!/usr/bin/env bash
# Makes a self-signed certificate for a first start (browsers will warn; replace it with a real
# one). Usage: deploy/nginx/selfsigned.sh [DIR] [HOST]   → DIR/snodo.crt, DIR/snodo.key
set -euo pipefail
dir="${1:-/etc/ssl/snodo}"
host="${2:-localhost}"
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host,IP:127.0.0.1" \
  -keyout "$dir/snodo.key" -out "$dir/snodo.crt" 2>/dev/null
chmod 600 "$dir/snodo.key"
echo "$dir/snodo.crt and $dir/snodo.key for $host (self-signed, 365 days)"
