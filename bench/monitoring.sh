#!/usr/bin/env bash
# Monitoring benchmark against a real controller process: the cost of one /metrics scrape with 1,000 live vGPUs
# (target: at most 50 ms) and the dashboard's update latency after a grant (a lease granted until the
# /v1/stream snapshot that shows it arrives), each beside baselines measured in the same run.
# Arguments: [vGPUs (default 1000)] [scrapes (default 30)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release -Xswiftc -enable-testing --product tessera >/dev/null
python3 bench/monitoring/monitoring_bench.py --tessera .build/release/tessera "$@"
