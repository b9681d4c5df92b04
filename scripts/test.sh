#!/usr/bin/env bash
# The whole test suite: Rust unit, integration and end-to-end tests, then the widget's browser
# tests (headless Chromium driving a real `snodo demo` over loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
cargo build --locked -p snodo-cli
if [ ! -d widget/node_modules ]; then
  (cd widget && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd widget && SNODO_BIN="$PWD/../target/debug/snodo" npm test)
