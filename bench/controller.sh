#!/usr/bin/env bash
# Controller benchmark: placement decisions/s and durable lease operations/s, each beside a same-run baseline.
# Arguments: [placement decisions] [durable operations]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release -Xswiftc -enable-testing --product tessera-bench-controller >/dev/null
.build/release/tessera-bench-controller "$@"
