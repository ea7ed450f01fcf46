#!/usr/bin/env bash
# Compute isolation: achieved shares, limit and share modes against an unlimited baseline, scheduler overhead.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --product tessera-bench-compute >/dev/null
.build/release/tessera-bench-compute "$@"
