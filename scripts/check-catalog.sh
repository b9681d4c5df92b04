#!/usr/bin/env bash
# The DCAT-AP_IT catalogue, as dati.gov.it would harvest it: starts `snodo demo` (sample platforms,
# a sample publisher), then validates /catalog.ttl and /catalog.jsonld with pyshacl against the
# European DCAT-AP 2.1.1 shapes and the DCAT-AP_IT shapes (tests/fixtures/shacl/). Needs python3
# with scripts/catalog/requirements.txt and a built snodo (SNODO_BIN, default target/debug/snodo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib-serve.sh
bin=$(snodo_bin)
work=$(mktemp -d)
port=$(free_port)
"$bin" demo --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/demo.log" 2>&1 &
pid=$!
trap 'stop $pid; rm -rf "$work"' EXIT
url=$(wait_listening "$work/demo.log" "$pid")
python3 scripts/check-catalog.py "$url"
