#!/usr/bin/env bash
# The domain model does no I/O: no async runtime, HTTP, database, index or web framework in its
# dependency tree. The API and config crates never pull in the engines they must not touch.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # crate, forbidden crates anywhere in its normal dependency tree
  local crate=$1; shift
  verify "$crate" "" "$@"
}
check_direct() { # crate, forbidden direct dependencies (it may use them through a crate that owns them)
  local crate=$1; shift
  verify "$crate" "--depth 1" "$@"
}
verify() {
  local crate=$1 depth=$2; shift 2
  local tree
  # shellcheck disable=SC2086
  tree=$(cargo tree -p "$crate" -e normal $depth --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  for bad in "$@"; do
    if grep -qx "$bad" <<<"$tree"; then
      echo "dependency direction: $crate must not depend on $bad"
      fail=1
    fi
  done
}
check snodo-model tokio reqwest rusqlite tantivy axum hyper
check snodo-config tokio reqwest rusqlite tantivy axum
check snodo-connector rusqlite tantivy axum
check snodo-decidim rusqlite tantivy axum
check snodo-store reqwest tantivy axum
# The store is blocking; tokio reaches it only inside the postgres client, never directly.
check_direct snodo-store tokio
check snodo-index tokio reqwest rusqlite axum
check_direct snodo-api reqwest tantivy rusqlite
check_direct snodo-harvest tantivy rusqlite axum
[ $fail -eq 0 ] && echo "dependency direction: ok"
exit $fail
