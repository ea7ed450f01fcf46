#!/usr/bin/env bash
# Data-path benchmark: synchronous call latency (an idle-stream query, 4-byte copies each way, a 4-byte memset
# with its synchronize), pipelined launch rate and pinned copy bandwidth of a CUDA program under `tessera run`,
# each beside a baseline measured in the same run on the same machine. Each figure is the median of ROUNDS
# rounds, measurement and baseline interleaved so machine load hits both alike; the latency ratios are the
# median of each round's own ratio to that round's raw ping-pong.
# Usage: bench/datapath/run.sh [ROUNDS]    (builds the release products first)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${1:-5}
swift build -c release -Xswiftc -enable-testing >/dev/null
build="$root/.build/release"
"$root/samples/build.sh" "$build" >/dev/null
nvcc=$("$root/scripts/setup-cuda.sh" | tail -n 1)
out="$root/bench/out"
mkdir -p "$out"
"$nvcc" -O2 -cudart shared -o "$out/datapath" bench/datapath/datapath.cu
# The same program with nvcc's defaults: NVIDIA's static runtime over Tessera's libcuda.so.1 (the driver path).
"$nvcc" -O2 -o "$out/datapath-static" bench/datapath/datapath.cu
cc -O2 -o "$out/baseline" bench/datapath/baseline.c
dir=$(mktemp -d)
"$build/tessera" node --socket "$dir/node.sock" --sim-gpus 1 --sim-gpu-memory 4GiB --log-level warning &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/node.sock" ] && break; sleep 0.05; done
tessera() { "$build/tessera" run --endpoint "$dir/node.sock" --memory 1GiB --compute 100 -- "$out/datapath" "$@"; }
driver() { "$build/tessera" run --endpoint "$dir/node.sock" --memory 1GiB --compute 100 -- "$out/datapath-static" "$@" | sed 's/^/driver_/'; }
: > "$out/results.txt"
for _ in $(seq "$rounds"); do
  "$out/baseline" pingpong 20000 >> "$out/results.txt"
  tessera sync 20000 >> "$out/results.txt"
  tessera small 10000 >> "$out/results.txt"
  "$out/baseline" stream 200000 >> "$out/results.txt"
  tessera launch 200000 >> "$out/results.txt"
  driver sync 20000 >> "$out/results.txt"
  driver launch 200000 >> "$out/results.txt"
  tessera copy 10 >> "$out/results.txt"
done
median() { awk -v k="$1" '$1 == k { print $2 }' "$out/results.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
# The median over rounds of each round's own ratio KEY / raw ping-pong: on a loaded machine a round's figure and
# its baseline see the same load, so their ratio is steadier than the ratio of two medians.
paired() { awk -v k="$1" '$1 == "raw_pingpong_us" { raw[++r] = $2 } $1 == k { v[++n] = $2 }
  END { for (i = 1; i <= n && i <= r; i++) print v[i] / raw[i] }' "$out/results.txt" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
raw=$(median raw_pingpong_us); sync=$(median sync_call_us)
stream=$(median raw_stream_msgs_per_s); launch=$(median launches_per_s); completed=$(median launches_completed_per_s)
d2h4=$(median d2h4_us); h2d4=$(median h2d4_us); memset4=$(median memset4_us)
dsync=$(median driver_sync_call_us); dlaunch=$(median driver_launches_per_s)
mem=$(median memcpy_GBps); h2d=$(median pinned_h2d_GBps); d2h=$(median pinned_d2h_GBps)
echo "Tessera data path: median of $rounds rounds ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf "  synchronous call round trip   %9.2f us   raw unix-socket ping-pong      %9.2f us   %sx (target <= 1.5x)\n" "$sync" "$raw" "$(paired sync_call_us)"
printf "  4-byte cudaMemcpy dev->host    %9.2f us   raw unix-socket ping-pong      %9.2f us   %sx (target <= 1.3x)\n" "$d2h4" "$raw" "$(paired d2h4_us)"
printf "  4-byte cudaMemcpy host->dev    %9.2f us   raw unix-socket ping-pong      %9.2f us   %sx (target <= 1.3x)\n" "$h2d4" "$raw" "$(paired h2d4_us)"
printf "  4-byte cudaMemset + sync       %9.2f us   raw unix-socket ping-pong      %9.2f us   %sx (target <= 1.3x)\n" "$memset4" "$raw" "$(paired memset4_us)"
printf "  async kernel launches issued  %9.0f /s   raw socket, one write/message  %9.0f /s   %sx (target >= 1000000/s)\n" "$launch" "$stream" "$(ratio "$launch" "$stream")"
printf "    (completed by the simulator %9.0f /s)\n" "$completed"
printf "  driver path (nvcc default build, NVIDIA's static runtime over Tessera's libcuda.so.1):\n"
printf "  synchronous call round trip   %9.2f us   runtime path                   %9.2f us   %sx (target <= 1.10x)\n" "$dsync" "$sync" "$(ratio "$dsync" "$sync")"
printf "  async kernel launches issued  %9.0f /s   runtime path                   %9.0f /s   %sx (target >= 0.90x)\n" "$dlaunch" "$launch" "$(ratio "$dlaunch" "$launch")"
printf "  64 MiB pinned host->device    %9.2f GB/s memcpy                         %9.2f GB/s %s%% (target >= 50%%)\n" "$h2d" "$mem" "$(awk "BEGIN { printf \"%.0f\", 100 * $h2d / $mem }")"
printf "  64 MiB pinned device->host    %9.2f GB/s memcpy                         %9.2f GB/s %s%% (target >= 50%%)\n" "$d2h" "$mem" "$(awk "BEGIN { printf \"%.0f\", 100 * $d2h / $mem }")"
