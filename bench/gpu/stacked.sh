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
"$build/tessera" node --socket "$dir/b.sock" --sim-gpus 1 --sim-gpu-memory 4GiB --log-level warning &
b=$!
for _ in $(seq 200); do [ -S "$dir/b.sock" ] && break; sleep 0.05; done
TESSERA_ENDPOINT="$dir/b.sock" TESSERA_MEMORY=2GiB TESSERA_COMPUTE=1 \
  "$build/tessera" node --socket "$dir/a.sock" --gpus all --cuda-driver "$build/libTesseraCuda.so" --log-level warning &
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
# Compute shares through A: three saturating programs at 10/30/60 %.
busy=()
for share in 10 30 60; do
  "$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute "$share" -- "$root/samples/bin/busy" 8 300 > "$dir/busy$share.out" &
  busy+=($!)
done
wait "${busy[@]}" || true
# Shares over the window in which all three ran (start-up skew excluded), from their "AT" timelines.
echo "  10/30/60 shares through A:  $(awk -f "$root/bench/gpu/window-shares.awk" "$dir/busy10.out" "$dir/busy30.out" "$dir/busy60.out")"
# A 25 % limit through A, as a share of the same program alone through A (each run by itself; steady rates).
"$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute 100 -- "$root/samples/bin/busy" 8 300 > "$dir/alone.out" || true
"$build/tessera" run --endpoint "$dir/a.sock" --memory 128MiB --compute 25 --compute-mode limit -- "$root/samples/bin/busy" 8 300 > "$dir/limit.out" || true
awk -v a="$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/alone.out")" -v l="$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/limit.out")" \
  'BEGIN { if (a > 0) printf "  25 %% limit through A:        %.1f %% of the program alone through A (%.0f/%.0f kernels/s)\n", 100*l/a, l, a }'
