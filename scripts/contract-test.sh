#!/usr/bin/env bash
# API contract test: schemathesis generates requests from /api/v1/openapi.json (valid and
# invalid ones) against a real `snodo serve` over the demo's data, and checks every answer with
# `--checks all`: no 5xx, status codes, content types, headers and bodies as documented. Then
# scripts/raw-paths.py sends every operation non-UTF-8 and malformed escapes in path and query.
#
#   scripts/contract-test.sh          # long mode: 200 examples per operation, up to 15 minutes
#   CI=true scripts/contract-test.sh  # short mode: 15 examples per operation, up to 3 minutes
#
# Needs `pip install schemathesis` (installed here when missing). SNODO_BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-serve.sh

if [ "${CI:-}" = true ] || [ "${1:-}" = --short ]; then
  examples=15; budget=180
else
  examples=200; budget=900
fi
command -v schemathesis >/dev/null || pip install -q schemathesis
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

demo_data "$work/data"
# Rate limiting off: the test sends far more than a client would, and 429 is documented anyway.
cfg=$(serve_config "$work/data" 'rate_limit_per_minute = 0')
port=$(free_port)
"$(snodo_bin)" --config "$cfg" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
base=$(wait_listening "$work/serve.log" "$pid")
# Search and the feeds have rules JSON Schema cannot state: `place` is any text naming a place
# (an unknown or ambiguous name is a documented 400 with candidates), and the place parameters
# must nest. There, a schema-valid request may be a 400; every other check stays as it is.
cat >"$work/schemathesis.toml" <<'TOML'
[[operations]]
include-path-regex = "^/(api/v1/search|feeds/.*)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
TOML
echo "== schemathesis against $base ($examples examples per operation, at most ${budget}s)"
set +e
# Run from the temp dir: schemathesis keeps a cache in the working directory.
(cd "$work" && schemathesis run "$base/api/v1/openapi.json" --url "$base" \
  --checks all --max-examples "$examples" --max-time "$budget" \
  --request-timeout 10 --workers 2 --seed 7 \
  --generation-codec utf-8 --warnings off --report junit --report-dir "$work/report")
rc=$?
echo "== raw, non-UTF-8 paths and queries on every operation (4xx problem+json, never 5xx)"
scripts/raw-paths.py "$base" || rc=1
set -e
if grep -qi 'panicked' "$work/serve.log"; then
  echo "contract test: the server panicked:" >&2
  grep -i -A3 panicked "$work/serve.log" >&2
  rc=1
fi
if [ $rc -eq 0 ]; then echo "contract test: ok"; else echo "contract test: FAILED ($rc)"; fi
exit $rc
