#!/usr/bin/env bash
# Scheduler extender latency: filter + prioritize for a pod against the 1,213-node Alibaba trace cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --product tessera-bench-extender
exec .build/release/tessera-bench-extender ../shared/traces/alibaba-gpu-2023/openb_node_list_gpu_node.csv "${1:-2000}"
