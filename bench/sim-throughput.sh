#!/usr/bin/env bash
# Simulated GPU throughput: warp-instructions per second on one core and on all cores (issue: simulated GPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
nvcc=$(scripts/setup-cuda.sh)
mkdir -p .build/bench
"$nvcc" -ptx -arch=compute_75 bench/kernels/sim_bench.cu -o .build/bench/sim_bench.ptx
swift build -c release -Xswiftc -enable-testing --product tessera-bench-sim >/dev/null
.build/release/tessera-bench-sim .build/bench/sim_bench.ptx "$@"
