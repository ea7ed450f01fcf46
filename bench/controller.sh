#!/usr/bin/env bash
# Controller benchmark, each figure beside a same-run baseline: placement decisions/s (and with 100 groups, against
# the same decisions without groups), durable lease operations/s, and a queued request's grant latency after a
# release (against a plain grant's POST on the same server).
# Arguments: [placement decisions] [durable operations]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release -Xswiftc -enable-testing --product tessera-bench-controller >/dev/null
.build/release/tessera-bench-controller "$@"
