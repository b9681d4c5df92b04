#!/usr/bin/env bash
# Keep the current widget.js for good before it changes in a release: embeds pinned to it by the
# /embed snippet's integrity hash go on loading it from /widget/{digest}.js after the upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
digest=$(sha384sum widget/widget.js | cut -c1-32)
mkdir -p widget/releases
cp widget/widget.js "widget/releases/$digest.js"
echo "widget/releases/$digest.js"
