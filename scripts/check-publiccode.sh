#!/usr/bin/env bash
# Check publiccode.yml (the Developers Italia catalogue entry) against the publiccode.yml standard:
# scripts/check-publiccode.py, a stand-in for the official validator (publiccode-parser-go), which
# cannot be installed on this project's machines (Go module sources are not reachable). No network
# is used: URLs are checked for shape, not reachability, like the official `--no-network`.
# Errors and deprecation warnings both fail (exit 1). Usage: scripts/check-publiccode.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-publiccode.yml}

# PyYAML: Debian's python3-yaml or pip, whichever is missing.
if ! python3 -c 'import yaml' 2>/dev/null; then
  pip install -q --disable-pip-version-check pyyaml
fi

echo "checking $file (publiccode.yml standard 0.5, Italian extension 1.0; no network)"
python3 scripts/check-publiccode.py --self-test
python3 scripts/check-publiccode.py --warnings-as-errors "$file"
