#!/usr/bin/env bash
# Data-path benchmark: synchronous call latency (an idle-stream query, 4-byte copies each way, a 4-byte memset
# with its synchronize), pipelined launch rate and pinned copy bandwidth of a CUDA program under `tessera run`,
# each beside a baseline measured in the same run on the same machine. Each figure is the median of ROUNDS
# rounds, measurement and baseline interleaved so machine load hits both alike; the latency ratios are the
# median of each round's own ratio to that round's raw ping-pong.
# Over TCP (a program on another machine), the same synchronous call and 64 MiB copies through a node serving
# TLS beside a node serving plain TCP (--allow-anonymous), both on loopback in the same run; the TLS node's
# certificate comes from a throwaway CA made with the openssl tool.
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
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=node -keyout "$dir/node.key" -out "$dir/node.csr" 2>/dev/null
echo "subjectAltName=IP:127.0.0.1" > "$dir/san.ext"
openssl x509 -req -in "$dir/node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 -extfile "$dir/san.ext" \
  -out "$dir/node.pem" 2>/dev/null
"$build/tessera" node --socket "$dir/tcp.sock" --listen 127.0.0.1:0 --insecure-plaintext --allow-anonymous --sim-gpus 1 --sim-gpu-memory 4GiB \
  --log-level info 2> "$dir/tcp.log" &
tcpnode=$!
"$build/tessera" node --socket "$dir/tls.sock" --listen 127.0.0.1:0 --allow-anonymous --tls-cert "$dir/node.pem" --tls-key "$dir/node.key" \
  --sim-gpus 1 --sim-gpu-memory 4GiB --log-level info 2> "$dir/tls.log" &
tlsnode=$!
trap 'kill $node $tcpnode $tlsnode 2>/dev/null; wait $node $tcpnode $tlsnode 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/node.sock" ] && break; sleep 0.05; done
port() { for _ in $(seq 200); do p=$(sed -n 's/.*listening on tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$1" | head -n 1); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.05; done; }
tcpport=$(port "$dir/tcp.log"); tlsport=$(port "$dir/tls.log")
tessera() { "$build/tessera" run --endpoint "$dir/node.sock" --memory 1GiB --compute 100 -- "$out/datapath" "$@"; }
overtcp() { "$build/tessera" run --endpoint "127.0.0.1:$tcpport" --memory 1GiB --compute 100 -- "$out/datapath" "$@" | sed 's/^/tcp_/'; }
overtls() { TESSERA_CA="$dir/ca.pem" "$build/tessera" run --endpoint "127.0.0.1:$tlsport" --memory 1GiB --compute 100 -- "$out/datapath" "$@" | sed 's/^/tls_/'; }
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
  overtcp sync 5000 >> "$out/results.txt"
  overtls sync 5000 >> "$out/results.txt"
  overtcp copy 3 >> "$out/results.txt"
  overtls copy 3 >> "$out/results.txt"
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
tcpsync=$(median tcp_sync_call_us); tlssync=$(median tls_sync_call_us)
tcph2d=$(median tcp_pinned_h2d_GBps); tlsh2d=$(median tls_pinned_h2d_GBps); tcpd2h=$(median tcp_pinned_d2h_GBps); tlsd2h=$(median tls_pinned_d2h_GBps)
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
printf "  over TCP (loopback), TLS node beside a plain-TCP node:\n"
printf "  synchronous call round trip   %9.2f us   plain TCP                      %9.2f us   %sx (target <= 1.3x)\n" "$tlssync" "$tcpsync" "$(ratio "$tlssync" "$tcpsync")"
printf "  64 MiB host->device (inline)  %9.2f GB/s plain TCP                      %9.2f GB/s %s%% (target >= 70%%)\n" "$tlsh2d" "$tcph2d" "$(awk "BEGIN { printf \"%.0f\", 100 * $tlsh2d / $tcph2d }")"
printf "  64 MiB device->host (inline)  %9.2f GB/s plain TCP                      %9.2f GB/s %s%% (target >= 70%%)\n" "$tlsd2h" "$tcpd2h" "$(awk "BEGIN { printf \"%.0f\", 100 * $tlsd2h / $tcpd2h }")"
