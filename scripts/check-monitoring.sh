#!/usr/bin/env bash
# Checks deploy/prometheus and deploy/grafana: the alert rules parse and fire as their unit tests
# say (promtool, from Debian's prometheus package), the scrape config is valid, and the Grafana
# dashboard is well formed, every PromQL expression in it parses, and every metric it or the
# rules name is one Snodo exports (described in the code).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
promtool check rules deploy/prometheus/alerts.yml
promtool check config deploy/prometheus/prometheus.yml
(cd deploy/prometheus && promtool test rules alerts.test.yml)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 scripts/check-dashboard.py deploy/grafana/snodo.json "$tmp/exprs.yml"
# the dashboard's expressions as recording rules: promtool parses each one
promtool check rules "$tmp/exprs.yml"
