#!/usr/bin/env bash
# Device check for the real-GPU backend: on a machine with an NVIDIA GPU, runs the samples natively and through
# `tessera node --gpus` + `tessera run`, and prints correctness, synchronous round trip, launches/s, copy
# bandwidth, compute-share accuracy (10/30/60 share, 25 limit) and quota exactness, each beside the native
# figure; paging of an idle session's memory through virtual memory management (page-out throughput beside host
# memcpy, the paged program's bytes intact at the same address); where PyTorch is installed, also a small
# training loop natively and through Tessera. Ends within
# 8 minutes (every step has a time limit).
#
# Nothing Swift is built there: bring the release binaries built elsewhere (`swift build -c release
# --static-swift-stdlib --product tessera` and `--product TesseraCuda`) and the nvcc-built samples
# (samples/build.sh; static builds in samples/bin/static, bench/out/datapath-static). Missing CUDA samples are
# compiled with nvcc when the machine has it.
#
# Usage: bench/gpu/check.sh [--dry-run] [--bin DIR] [--gpu N]
#   --bin DIR   where tessera and libTesseraCuda.so are (default .build/release)
#   --gpu N     the driver ordinal to check (default 0)
#   --dry-run   no GPU needed: the same steps against a stacked setup — node A (--gpus all over Tessera's own
#               libcuda.so.1) served by node B's simulated GPU, with B used directly as the "native" column —
#               so that the script cannot rot (CI runs it after the tests).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/.build/release"
gpu=0
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --bin) bin=$(cd "$2" && pwd); shift ;;
    --gpu) gpu=$2; shift ;;
    *) echo "usage: $0 [--dry-run] [--bin DIR] [--gpu N]" >&2; exit 2 ;;
  esac
  shift
done
started=$(date +%s)
budget=470
left() { echo $((budget - ($(date +%s) - started))); }
# A step's time limit: what it asks for, never past the script's budget.
limit() { local want=$1 l; l=$(left); [ "$l" -lt "$want" ] && want=$l; [ "$want" -lt 1 ] && want=1; echo "$want"; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# --- Prerequisites -------------------------------------------------------------------------------------------
for f in "$bin/tessera" "$bin/libTesseraCuda.so"; do
  [ -e "$f" ] || { echo "missing $f (build: swift build -c release --static-swift-stdlib --product tessera; --product TesseraCuda)"; exit 1; }
done
samples="$root/samples/bin/static"
datapath="$root/bench/out/datapath-static"
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ] && [ "$dry" = 1 ]; then nvcc=$("$root/scripts/setup-cuda.sh" 2>/dev/null | tail -n 1 || true); fi
mkdir -p "$samples" "$root/bench/out"
for s in memops vadd streams symbols quota fault busy paged devout; do
  if [ ! -x "$samples/$s" ]; then
    [ -n "$nvcc" ] || { echo "missing $samples/$s and no nvcc to build it (run samples/build.sh where nvcc is)"; exit 1; }
    "$nvcc" -O2 -o "$samples/$s" "$root/samples/$s.cu" || exit 1
  fi
done
if [ ! -x "$datapath" ]; then
  [ -n "$nvcc" ] || { echo "missing $datapath and no nvcc to build it"; exit 1; }
  "$nvcc" -O2 -o "$datapath" "$root/bench/datapath/datapath.cu" || exit 1
fi

dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
waitsock() { for _ in $(seq 600); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

if [ "$dry" = 1 ]; then
  echo "Tessera GPU check — DRY RUN: node A (--gpus all over Tessera's libcuda.so.1) stacked on node B (simulated);"
  echo "the 'native' column is node B used directly. Figures say nothing about real GPUs."
  "$bin/tessera" node --socket "$dir/b.sock" --sim-gpus 1 --sim-gpu-memory 2GiB --log-level warning &
  pids+=($!)
  waitsock "$dir/b.sock" || { echo "node B did not start"; exit 1; }
  # A's probe (and so A's GPU) takes part of B, leaving room while B notices the probe has gone.
  TESSERA_ENDPOINT="$dir/b.sock" TESSERA_MEMORY=1536MiB TESSERA_COMPUTE=1 \
    "$bin/tessera" node --socket "$dir/a.sock" --gpus all --cuda-driver "$bin/libTesseraCuda.so" --log-level warning &
  pids+=($!)
  native() { "$bin/tessera" run --endpoint "$dir/b.sock" --memory 1GiB --compute 100 -- "$@"; }
  seconds=3; iters=300; rounds=200; copies=2
else
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || { echo "no NVIDIA GPU here (nvidia-smi -L failed); use --dry-run"; exit 1; }
  echo "Tessera GPU check on $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader -i "$gpu")"
  "$bin/tessera" node --socket "$dir/a.sock" --gpus "$gpu" --log-level notice &
  pids+=($!)
  native() { CUDA_VISIBLE_DEVICES=$gpu "$@"; }
  seconds=10; iters=100000; rounds=20000; copies=10
fi
waitsock "$dir/a.sock" || { echo "node A (--gpus) did not start"; exit 1; }
# Through Tessera: MEM COMPUTE MODE PROGRAM ARGS...
tess() { local mem=$1 compute=$2 mode=$3; shift 3; "$bin/tessera" run --endpoint "$dir/a.sock" --memory "$mem" --compute "$compute" --compute-mode "$mode" -- "$@"; }
export bin dir gpu
export -f native tess
# With a time limit (seconds, capped by the budget): the program natively / through Tessera.
on_native() { local t; t=$(limit "$1"); shift; timeout "$t" bash -c 'native "$@"' _ "$@"; }
on_tessera() { local t; t=$(limit "$1"); shift; timeout "$t" bash -c 'tess "$@"' _ "$@"; }
printf "%-34s %-24s %-24s\n" "" "native" "through Tessera"

# --- Correctness ---------------------------------------------------------------------------------------------
check() {  # NAME EXPECTED-OUTPUT ARGS...
  local name=$1 want=$2; shift 2
  local n t
  n=$(on_native 60 "$samples/$name" "$@" 2>&1 | grep -c "$want")
  t=$(on_tessera 60 1GiB 100 share "$samples/$name" "$@" 2>&1 | grep -c "$want")
  printf "%-34s %-24s %-24s\n" "correctness: $name" "$([ "$n" -gt 0 ] && echo OK || echo FAIL)" "$([ "$t" -gt 0 ] && echo OK || echo FAIL)"
  [ "$t" -gt 0 ] || fail "$name through Tessera"
}
check memops "memops OK"
check vadd "vadd OK" 100000 8
check streams "streams OK"
check symbols "symbols OK"
check fault "fault OK kernel" kernel
# Mapped (zero-copy) host memory: the worker maps the program's pinned memory at its address for the GPU.
check devout "zerocopy OK same=1 rounds=3" zerocopy 3
# Pinned copies: the worker copies between the GPU and its own (registered) mapping of the program's pinned memory.
check devout "pinned OK sizes=4" pinned

# --- Data path -----------------------------------------------------------------------------------------------
figure() { awk -v k="$1" '$1 == k { print $2 }'; }
nsync=$(on_native 60 "$datapath" sync $rounds | figure sync_call_us)
tsync=$(on_tessera 60 1GiB 100 share "$datapath" sync $rounds | figure sync_call_us)
printf "%-34s %-24s %-24s\n" "synchronous round trip (us)" "${nsync:-?}" "${tsync:-?}"
nl=$(on_native 60 "$datapath" launch $((rounds * 5)) | figure launches_per_s)
tl=$(on_tessera 60 1GiB 100 share "$datapath" launch $((rounds * 5)) | figure launches_per_s)
printf "%-34s %-24s %-24s\n" "kernel launches issued (/s)" "${nl:-?}" "${tl:-?}"
ncopy=$(on_native 90 "$datapath" copy $copies)
tcopy=$(on_tessera 90 1GiB 100 share "$datapath" copy $copies)
printf "%-34s %-24s %-24s\n" "64 MiB host->device (GB/s)" "$(echo "$ncopy" | figure pinned_h2d_GBps)" "$(echo "$tcopy" | figure pinned_h2d_GBps)"
printf "%-34s %-24s %-24s\n" "64 MiB device->host (GB/s)" "$(echo "$ncopy" | figure pinned_d2h_GBps)" "$(echo "$tcopy" | figure pinned_d2h_GBps)"
[ -n "$tsync" ] && [ -n "$tl" ] || fail "data path through Tessera"

# --- Compute shares ------------------------------------------------------------------------------------------
kernels() { awk '$1 == "KERNELS" { print $2 }' "$1"; }
on_native $((seconds * 3 + 30)) "$samples/busy" "$seconds" "$iters" > "$dir/alone.out" 2>&1
alone=$(kernels "$dir/alone.out")
jobs_=()
for share in 10 30 60; do
  on_tessera $((seconds * 3 + 30)) 256MiB "$share" share "$samples/busy" "$seconds" "$iters" > "$dir/share$share.out" 2>&1 &
  jobs_+=($!)
done
wait "${jobs_[@]}" 2>/dev/null
# Shares over the window in which all three ran (their start-up skew excluded), from their "AT" timelines.
shares=$(awk -f "$root/bench/gpu/window-shares.awk" "$dir/share10.out" "$dir/share30.out" "$dir/share60.out")
[ -n "$shares" ] || { shares="FAIL"; fail "compute shares"; }
printf "%-34s %-24s %-24s\n" "10/30/60 share, achieved" "alone: ${alone:-?} kernels" "$shares"
on_tessera $((seconds * 3 + 30)) 256MiB 25 limit "$samples/busy" "$seconds" "$iters" > "$dir/limit.out" 2>&1
# Steady rates (start-up and final drain excluded): the limited program's against the program alone.
rl=$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/limit.out"); ra=$(awk -f "$root/bench/gpu/steady-rate.awk" "$dir/alone.out")
printf "%-34s %-24s %-24s\n" "25 limit, of the GPU alone" "100 %" "$([ -n "$rl" ] && [ -n "$ra" ] && awk -v a="$rl" -v b="$ra" 'BEGIN { printf "%.1f %%", 100*a/b }' || echo FAIL)"

# --- Quota ---------------------------------------------------------------------------------------------------
q=$(on_tessera 60 48MiB 10 share "$samples/quota" 48 2>&1)
total=$([ "$dry" = 1 ] && echo "2 GiB (node B)" || echo "$(nvidia-smi --query-gpu=memory.total --format=csv,noheader -i "$gpu")")
printf "%-34s %-24s %-24s\n" "quota 48 MiB exact to the byte" "GPU: $total" "$(echo "$q" | grep -q "quota OK 50331648" && echo OK || echo FAIL)"
echo "$q" | grep -q "quota OK 50331648" || fail "quota"

# --- Paging --------------------------------------------------------------------------------------------------
# A second node, paging (--page-idle-after): its workers allocate through virtual memory management, so an idle
# session's memory leaves the GPU and comes back at the same addresses. A program holding memory is paged out on
# request (as `%tessera release` asks), then touched again; beside it, host memcpy of the same size.
pmib=$([ "$dry" = 1 ] && echo 256 || echo 4096)
if [ "$dry" = 1 ]; then
  TESSERA_ENDPOINT="$dir/b.sock" TESSERA_MEMORY=512MiB TESSERA_COMPUTE=1 \
    "$bin/tessera" node --socket "$dir/p.sock" --gpus all --cuda-driver "$bin/libTesseraCuda.so" --page-idle-after 600 \
    --log-level notice 2> "$dir/p.log" &
else
  "$bin/tessera" node --socket "$dir/p.sock" --gpus "$gpu" --page-idle-after 600 --log-level notice 2> "$dir/p.log" &
fi
pids+=($!)
if waitsock "$dir/p.sock"; then
  if grep -q "paging is off" "$dir/p.log"; then
    printf "%-34s %-24s %-24s\n" "paging (VMM)" "-" "off: $(grep -o 'lacks virtual memory management' "$dir/p.log" | head -1)"
  else
    pg=$(timeout "$(limit 120)" python3 "$root/bench/gpu/paging-check.py" "$bin/tessera" "$dir/p.sock" "$samples/paged" "$pmib" 2>&1 | grep PAGING)
    memcpy=$(python3 -c "import time; b = bytearray($pmib << 20); t = time.time(); c = bytes(b); print(f'{len(c) / (time.time() - t) / 1e9:.2f}')" 2>/dev/null)
    field() { echo "$pg" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
    printf "%-34s %-24s %-24s\n" "page-out $pmib MiB (GB/s)" "host memcpy: ${memcpy:-?}" "$(field out_GBps) ($(field out_ms) ms)"
    printf "%-34s %-24s %-24s\n" "paged program's next call + check" "-" "$(field resume_ms) ms, intact: $(field intact)"
    [ "$(field intact)" = yes ] || fail "paging through Tessera: $pg"
  fi
else
  fail "the paging node did not start: $(tail -3 "$dir/p.log")"
fi

# --- PyTorch -------------------------------------------------------------------------------------------------
if [ "$dry" = 0 ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  cat > "$dir/train.py" <<'PY'
import time, torch
torch.manual_seed(0)
dev = "cuda"
x = torch.randn(4096, 512, device=dev); w = torch.randn(512, 10, device=dev); y = (x @ w).argmax(1)
model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(220):
    if step == 20: torch.cuda.synchronize(); t = time.time()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
torch.cuda.synchronize()
print(f"TRAIN step_ms {(time.time() - t) / 200 * 1000:.3f} loss {loss.item():.4f} mem {torch.cuda.mem_get_info()[1]}")
PY
  nt=$(on_native 120 python3 "$dir/train.py" 2>&1 | grep TRAIN)
  tt=$(on_tessera 120 4GiB 100 share python3 "$dir/train.py" 2>&1 | grep TRAIN)
  printf "%-34s %-24s %-24s\n" "PyTorch MLP step (ms)" "$(echo "$nt" | awk '{print $3}')" "$(echo "$tt" | awk '{print $3}')"
  printf "%-34s %-24s %-24s\n" "PyTorch final loss" "$(echo "$nt" | awk '{print $5}')" "$(echo "$tt" | awk '{print $5}')"
  printf "%-34s %-24s %-24s\n" "PyTorch sees total memory" "$(echo "$nt" | awk '{print $7}')" "$(echo "$tt" | awk '{print $7}') (quota 4294967296)"
  [ -n "$tt" ] || fail "PyTorch through Tessera"
else
  echo "PyTorch training loop: skipped (no PyTorch with CUDA here)"
fi

echo "done in $(( $(date +%s) - started )) s, $failures failure(s)"
[ "$failures" = 0 ]
