#!/usr/bin/env bash
# What the real-GPU backend's path costs, measured without a GPU: the same programs against node B (simulated
# GPU, used directly) and through node A (`--gpus all`: a worker process per session, loading Tessera's own
# libcuda.so.1 served by B), in the same run. Each figure is the median of ROUNDS rounds, both paths
# interleaved so machine load hits them alike; 10/30/60 shares through A come from one concurrent run.
# Usage: bench/gpu/stacked.sh [ROUNDS]     (builds the release products and samples first)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${1:-3}
swift build -c release -Xswiftc -enable-testing --product tessera >/dev/null
swift build -c release -Xswiftc -enable-testing --product TesseraCuda >/dev/null
build="$root/.build/release"
"$root/samples/build.sh" "$build" >/dev/null
nvcc=$("$root/scripts/setup-cuda.sh" | tail -n 1)
out="$root/bench/out"
mkdir -p "$out"
"$nvcc" -O2 -cudart shared -o "$out/datapath" bench/datapath/datapath.cu
dir=$(mktemp -d)
metrics=$((20000 + RANDOM % 20000))
"$build/tessera" node --socket "$dir/b.sock" --sim-gpus 1 --sim-gpu-memory 4GiB --log-level warning &
b=$!
for _ in $(seq 200); do [ -S "$dir/b.sock" ] && break; sleep 0.05; done
TESSERA_ENDPOINT="$dir/b.sock" TESSERA_MEMORY=2GiB TESSERA_COMPUTE=1 \
  "$build/tessera" node --socket "$dir/a.sock" --gpus all --cuda-driver "$build/libTesseraCuda.so" --log-level warning \
  --metrics-listen "127.0.0.1:$metrics" &
a=$!
trap 'kill $a $b 2>/dev/null; wait $a $b 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 600); do [ -S "$dir/a.sock" ] && break; sleep 0.05; done
on() { local sock=$1; shift; "$build/tessera" run --endpoint "$dir/$sock" --memory 1GiB --compute 100 -- "$@"; }
: > "$out/stacked.txt"
for _ in $(seq "$rounds"); do
  on b.sock "$out/datapath" sync 2000 | sed 's/^/direct_/' >> "$out/stacked.txt"
  on a.sock "$out/datapath" sync 2000 | sed 's/^/stacked_/' >> "$out/stacked.txt"
  on b.sock "$out/datapath" launch 20000 | sed 's/^/direct_/' >> "$out/stacked.txt"
  on a.sock "$out/datapath" launch 20000 | sed 's/^/stacked_/' >> "$out/stacked.txt"
  on b.sock "$out/datapath" copy 2 | sed 's/^/direct_/' >> "$out/stacked.txt"
  on a.sock "$out/datapath" copy 2 | sed 's/^/stacked_/' >> "$out/stacked.txt"
done
median() { awk -v k="$1" '$1 == k { print $2 }' "$out/stacked.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "Stacked path (node A --gpus over Tessera's libcuda.so.1 → node B) beside node B directly: median of $rounds rounds"
echo "($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
for k in sync_call_us launches_per_s launches_completed_per_s pinned_h2d_GBps pinned_d2h_GBps; do
  d=$(median "direct_$k"); s=$(median "stacked_$k")
  printf "  %-26s direct %12s   stacked %12s   stacked/direct %sx\n" "$k" "$d" "$s" "$(ratio "$s" "$d")"
done
# Compute shares through A: three programs at 10/30/60 %, with kernels long enough (3,000 iterations, as the
# simulated path's share test) that the device, not the stacked path's per-launch cost, limits them. Two measures:
# device time node A charged each vGPU (CUDA events, what the scheduler divides) over a window in which all
# three ran, and kernels completed over the window in which all three ran (what the programs experience).
busy=()
for share in 10 30 60; do
  "$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute "$share" -- "$root/samples/bin/busy" 12 3000 > "$dir/busy$share.out" &
  busy+=($!)
done
# Per share, node A's charged device seconds, from its Prometheus metrics.
charged() {
  python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1]).read().decode()
share, busy = {}, {}
for line in text.splitlines():
    if line.startswith("tessera_vgpu_compute_share_ratio{") or line.startswith("tessera_vgpu_busy_seconds{"):
        labels, value = line.rsplit(" ", 1)
        session = labels.split("session=\"")[1].split("\"")[0]
        (share if line.startswith("tessera_vgpu_compute") else busy)[session] = float(value)
print(" ".join("%d:%.9f" % (round(100 * share[s]), busy[s]) for s in share if s in busy))' "http://127.0.0.1:$metrics/metrics"
}
sleep 3; first=$(charged); sleep 6; last=$(charged)
wait "${busy[@]}" || true
echo "  10/30/60 device-time shares through A (charged, over 6 s): $(awk -v a="$first" -v b="$last" 'BEGIN {
  n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], p, ":"); before[p[1]] = p[2] }
  n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], p, ":"); used[p[1]] = p[2] - before[p[1]]; total += used[p[1]] }
  if (total > 0) printf "%.1f/%.1f/%.1f %%", 100 * used[10] / total, 100 * used[30] / total, 100 * used[60] / total }')"
echo "  10/30/60 kernel-throughput shares through A:       $(awk -f "$root/bench/gpu/window-shares.awk" "$dir/busy10.out" "$dir/busy30.out" "$dir/busy60.out")"
# A 25 % limit through A, as a share of the same program alone through A (each run by itself; steady rates).
"$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute 100 -- "$root/samples/bin/busy" 8 3000 > "$dir/alone.out" || true
"$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute 25 --compute-mode limit -- "$root/samples/bin/busy" 8 3000 > "$dir/limit.out" || true
awk -v a="$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/alone.out")" -v l="$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/limit.out")" \
  'BEGIN { if (a > 0) printf "  25 %% limit through A:        %.1f %% of the program alone through A (%.0f/%.0f kernels/s)\n", 100*l/a, l, a }'
