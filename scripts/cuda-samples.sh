#!/usr/bin/env bash
# NVIDIA's CUDA samples as Tessera's compatibility bar: builds the samples listed in the cuda-samples tree's
# samples.txt (sources never copied into this repository) with nvcc from PyPI, in both build modes —
# `shared` (nvcc -cudart shared: Tessera's libcudart.so.13) and `static` (nvcc's default: NVIDIA's static
# runtime over Tessera's libcuda.so.1) — runs each through `tessera run` on a standalone node of simulated
# GPUs, and prints a compatibility table.
#
# Usage: scripts/cuda-samples.sh [--modes shared,static] [--markdown FILE] [--timeout SECONDS] [--report] [--stacked]
#                               [--pending NAME,…] [NAME…]
#   NAME…: only these samples (a name such as simplePrintf, or its path such as 0_Introduction/simplePrintf);
#   default every sample in the tree's samples.txt.
#   --pending: samples known not to pass yet (default: the ones the simulator is still too slow for); they are
#   run and reported but do not fail the script. "--pending ''" makes every sample count.
#   BUILD_DIR (default .build/release) holds `tessera` and the drop-in libraries;
#   CUDA_SAMPLES (default ../shared/third_party/cuda-samples beside the checkout) is the samples tree.
#   --skip NAME,…: leave these samples out (not built, not run, not in the table).
#   --stacked: run them through the real-GPU backend without a GPU: node A (`--gpus all`, one worker process per
#   session, loading Tessera's own libcuda.so.1) served by node B's simulated GPU, as bench/gpu/stacked.sh does.
# A sample passes when it exits 0, Tessera printed no "not supported" line, no kernel image failed to load, and
# (for the samples whose result is device printf output) the expected device line was printed.
# Exit status: 1 when a sample not pending failed in some mode, else 0 (always 0 with --report, which only
# reports).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/.build/release}
samples=${CUDA_SAMPLES:-$root/../shared/third_party/cuda-samples}
modes=shared,static
markdown=
limit=60
report=0
stacked=0
skip=
# Too slow for the simulator within the limit (scan), beyond any interpreter (simpleAttributes: 65,535 blocks
# of 1,024 threads, ~720,000 shared atomics a block), or passing with little margin on a slower machine
# (simpleStreams 48 s, reductionMultiBlockCG 35 s in a fresh-clone CI run here).
pending=simpleStreams,scan,simpleAttributes,reductionMultiBlockCG
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --modes) modes=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --report) report=1; shift ;;
    --stacked) stacked=1; shift ;;
    --skip) skip=$2; shift 2 ;;
    --pending) pending=$2; shift 2 ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ -d "$samples/Samples" ] || { echo "cuda-samples tree not found at $samples (set CUDA_SAMPLES)" >&2; exit 1; }
[ -x "$build/tessera" ] || { echo "$build/tessera is missing: build with swift build -c release" >&2; exit 1; }

nvcc=$("$root/scripts/setup-cuda.sh" | tail -n 1)
cu=$(cd "$(dirname "$nvcc")/.." && pwd)
out="$root/.build/cuda-samples"
mkdir -p "$out/obj" "$out/shared" "$out/static" "$out/logs"
exec 9>"$out/.lock"
flock 9

listed=()
while read -r line; do [ -n "$line" ] && listed+=("$line"); done < "$samples/samples.txt"
if [ ${#names[@]} -eq 0 ]; then
  names=("${listed[@]}")
else
  # A bare name selects the listed sample of that name.
  for i in "${!names[@]}"; do
    case "${names[$i]}" in
      */*) ;;
      *) for path in "${listed[@]}"; do [ "${path##*/}" = "${names[$i]}" ] && names[$i]=$path; done ;;
    esac
    [ -d "$samples/Samples/${names[$i]}" ] || { echo "no sample ${names[$i]} in $samples/Samples" >&2; exit 1; }
  done
fi
if [ -n "$skip" ]; then
  kept=()
  for path in "${names[@]}"; do [[ ",$skip," == *",${path##*/},"* ]] || kept+=("$path"); done
  names=("${kept[@]}")
fi
# Samples whose device output is their result: a line it must print (device printf reaches the program).
declare -A expect=(
  [simplePrintf]=$'[3, 7]:\t\tValue is:10'
  [simpleCooperativeGroups]='Sum of all ranks 0..63 in threadBlockGroup is 2016 (expected 2016)'
)
is_pending() { case ",$pending," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# Compiles a sample's sources once (device code for nvcc's default targets) and links it twice: the build
# mode only changes which CUDA runtime the link step takes.
build_sample() {
  local path=$1 name=${1##*/} dir="$samples/Samples/$1" obj="$out/obj/${1##*/}"
  local newest=0 f
  for f in "$dir"/*; do [ "$f" -nt "$out/static/$name" ] && newest=1; done
  if [ -x "$out/static/$name" ] && [ -x "$out/shared/$name" ] && [ $newest = 0 ]; then return 0; fi
  mkdir -p "$obj"
  rm -f "$obj"/*.o
  local objects=()
  for f in "$dir"/*.cu "$dir"/*.cpp; do
    [ -e "$f" ] || continue
    local o="$obj/$(basename "$f").o"
    "$nvcc" -O2 -std=c++17 -I"$samples/Common" -I"$dir" -I"$cu/include/cccl" -c -o "$o" "$f" || return 1
    objects+=("$o")
  done
  "$nvcc" -o "$out/shared/$name" "${objects[@]}" -cudart shared || return 1
  "$nvcc" -o "$out/static/$name" "${objects[@]}" || return 1
}

socket="$out/node.sock"
log="$out/logs/node.log"
rm -f "$socket" "$out/node-b.sock"
if [ $stacked = 1 ]; then
  # Node B: one simulated GPU; node A: the CUDA backend over Tessera's libcuda.so.1 pointed at B (its start-up
  # probe asks B for half the GPU and 1 % of its time; each worker then asks for its session's sizes).
  "$build/tessera" node --socket "$out/node-b.sock" --sim-gpus 1 --sim-gpu-memory 6GiB >"$out/logs/node-b.log" 2>&1 &
  nodeb=$!
  for _ in $(seq 100); do [ -S "$out/node-b.sock" ] && break; sleep 0.1; done
  TESSERA_ENDPOINT="$out/node-b.sock" TESSERA_MEMORY=3GiB TESSERA_COMPUTE=1 \
    "$build/tessera" node --socket "$socket" --gpus all --cuda-driver "$build/libTesseraCuda.so" >"$log" 2>&1 &
  node=$!
  trap 'kill $node $nodeb 2>/dev/null; wait $node $nodeb 2>/dev/null || true' EXIT
  for _ in $(seq 300); do [ -S "$socket" ] && break; sleep 0.1; done
else
  "$build/tessera" node --socket "$socket" --sim-gpus 2 --sim-gpu-memory 4GiB >"$log" 2>&1 &
  node=$!
  trap 'kill $node 2>/dev/null; wait $node 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
fi
[ -S "$socket" ] || { echo "the node did not start: $(cat "$log")" >&2; exit 1; }

IFS=, read -r -a modelist <<<"$modes"
declare -A result seconds
failures=0
gating=0
newly=()
for path in "${names[@]}"; do
  name=${path##*/}
  if ! build_sample "$path" >"$out/logs/$name.build.log" 2>&1; then
    for mode in "${modelist[@]}"; do result[$name/$mode]="build failed"; seconds[$name/$mode]=-; done
    failures=$((failures + ${#modelist[@]}))
    is_pending "$name" || gating=$((gating + ${#modelist[@]}))
    continue
  fi
  for mode in "${modelist[@]}"; do
    run_log="$out/logs/$name.$mode.log"
    start=$(date +%s.%N)
    status=0
    # Samples that read data files or write images run in their own folder; some need a TTY-less stdin.
    (cd "$samples/Samples/$path" && timeout -k 5 "$limit" "$build/tessera" run --endpoint "$socket" --vgpus 1 --memory 2GiB \
        --compute 50 -- "$out/$mode/$name" </dev/null >"$run_log" 2>&1) || status=$?
    took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    seconds[$name/$mode]=$(printf '%.1f' "$took")
    if [ $status = 124 ]; then result[$name/$mode]="timeout"
    elif grep -qiE 'tessera.*not supported|not supported by Tessera' "$run_log"; then result[$name/$mode]="not supported"
    elif grep -qiE 'kernel image is invalid|no kernel image|cannot load|CUDA_ERROR_NO_BINARY' "$run_log"; then result[$name/$mode]="image refused"
    elif [ $status = 2 ]; then result[$name/$mode]="waived"
    elif [ $status != 0 ]; then result[$name/$mode]="failed ($status)"
    elif [ -n "${expect[$name]:-}" ] && ! grep -qF -- "${expect[$name]}" "$run_log"; then result[$name/$mode]="output missing"
    else result[$name/$mode]=pass; fi
    if [ "${result[$name/$mode]}" != pass ]; then
      failures=$((failures + 1))
      is_pending "$name" || gating=$((gating + 1))
    elif is_pending "$name"; then
      newly+=("$name/$mode")
    fi
  done
done

table() {
  printf '| sample |'; for mode in "${modelist[@]}"; do printf ' %s | s |' "$mode"; done; echo
  printf '|---|'; for _ in "${modelist[@]}"; do printf -- '---|--:|'; done; echo
  for path in "${names[@]}"; do
    name=${path##*/}
    printf '| %s |' "$path"
    for mode in "${modelist[@]}"; do printf ' %s | %s |' "${result[$name/$mode]}" "${seconds[$name/$mode]}"; done
    echo
  done
}
table
[ -z "$markdown" ] || table >"$markdown"
total=$(( ${#names[@]} * ${#modelist[@]} ))
echo "NVIDIA cuda-samples through Tessera$([ $stacked = 1 ] && echo "'s real-GPU backend, stacked on a simulated GPU"): $((total - failures)) of $total runs pass (logs in $out/logs)"
[ -z "$pending" ] || echo "pending (reported, not gating): ${pending//,/, }"
[ ${#newly[@]} = 0 ] || echo "now passing though pending (take them off the list): ${newly[*]}"
[ $gating = 0 ] || echo "$gating run(s) of samples that should pass failed" >&2
[ $report = 1 ] || [ $gating = 0 ]
