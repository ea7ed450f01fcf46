#!/usr/bin/env bash
# NVIDIA's CUDA samples as Tessera's compatibility bar: builds the samples listed in the cuda-samples tree's
# samples.txt (sources never copied into this repository) with nvcc from PyPI, in both build modes —
# `shared` (nvcc -cudart shared: Tessera's libcudart.so.13) and `static` (nvcc's default: NVIDIA's static
# runtime over Tessera's libcuda.so.1) — runs each through `tessera run` on a standalone node of simulated
# GPUs, and prints a compatibility table.
#
# Usage: scripts/cuda-samples.sh [--modes shared,static] [--markdown FILE] [--timeout SECONDS] [--report] [NAME…]
#   BUILD_DIR (default .build/release) holds `tessera` and the drop-in libraries;
#   CUDA_SAMPLES (default ../shared/third_party/cuda-samples beside the checkout) is the samples tree.
# A sample passes when it exits 0, Tessera printed no "not supported" line, and no kernel image failed to load.
# Exit status: 0 when every sample passed in every mode, else 1 (always 0 with --report, which only reports).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/.build/release}
samples=${CUDA_SAMPLES:-$root/../shared/third_party/cuda-samples}
modes=shared,static
markdown=
limit=60
report=0
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --modes) modes=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --report) report=1; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
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

if [ ${#names[@]} -eq 0 ]; then
  while read -r line; do [ -n "$line" ] && names+=("$line"); done < "$samples/samples.txt"
fi

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
rm -f "$socket"
"$build/tessera" node --socket "$socket" --sim-gpus 2 --sim-gpu-memory 4GiB >"$log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "the node did not start: $(cat "$log")" >&2; exit 1; }

IFS=, read -r -a modelist <<<"$modes"
declare -A result seconds
failures=0
for path in "${names[@]}"; do
  name=${path##*/}
  if ! build_sample "$path" >"$out/logs/$name.build.log" 2>&1; then
    for mode in "${modelist[@]}"; do result[$name/$mode]="build failed"; seconds[$name/$mode]=-; done
    failures=$((failures + 1))
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
    else result[$name/$mode]=pass; fi
    [ "${result[$name/$mode]}" = pass ] || failures=$((failures + 1))
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
echo "NVIDIA cuda-samples through Tessera: $((total - failures)) of $total runs pass (logs in $out/logs)"
[ $report = 1 ] || [ $failures = 0 ]
