#!/usr/bin/env bash
# Paging of idle sessions (tessera node --page-idle-after): page-out and page-in throughput beside memcpy of the
# same size measured in the same run, and the time from an idle session's next call to its first kernel's
# completion, paged (the page-in included) beside the same call un-paged.
# Usage: bench/paging.sh [MIB]   (default 512; the simulated GPU gets 1.5 × MIB, so two such sessions do not fit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mib=${1:-512}
swift build -c release -Xswiftc -enable-testing --product tessera >/dev/null
build="$root/.build/release"
"$root/samples/build.sh" "$build" >/dev/null
nvcc=$("$root/scripts/setup-cuda.sh" | tail -n 1)
out="$root/bench/out"
mkdir -p "$out"
"$nvcc" -O2 -cudart shared -o "$out/firstcall" bench/paging/firstcall.cu
cc -O2 -o "$out/memcpy" bench/paging/memcpy.c
dir=$(mktemp -d)
"$build/tessera" node --socket "$dir/node.sock" --sim-gpus 1 --sim-gpu-memory "$((mib * 3 / 2))MiB" --page-idle-after 1 \
  --log-level info 2>"$dir/node.log" &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/node.sock" ] && break; sleep 0.05; done
run() { "$build/tessera" run --endpoint "$dir/node.sock" --memory "${mib}MiB" --compute 100 -- "$@"; }

# One session idle for 1.5 s, then its next call: un-paged, then paged out by a second session meanwhile.
first_call() {  # $1: "paged" to have a second session page this one out while it is idle
  run "$out/firstcall" "$mib" >"$dir/first.out" &
  local pid=$!
  for _ in $(seq 600); do grep -q READY "$dir/first.out" 2>/dev/null && break; sleep 0.05; done
  sleep 1.5
  if [ "$1" = paged ]; then run "$root/samples/bin/paged" "$mib" >/dev/null; fi
  kill -USR1 $pid
  wait $pid
  sed -n 's/^first_kernel_ms //p' "$dir/first.out"
}
unpaged_ms=$(first_call resident)
paged_ms=$(first_call paged)
memcpy=$("$out/memcpy" "$mib" | sed -n 's/^memcpy_gib_s //p')
field() { grep "$1" "$dir/node.log" | tail -n 1 | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
out_bytes=$(field "paged out" bytes); out_ms=$(field "paged out" ms)
in_bytes=$(field "paged in" bytes); in_copy_ms=$(field "paged in" copy_ms)
gib_s() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.2f", b / (ms / 1000) / 1073741824 }'; }
echo "paging ${mib} MiB on a simulated GPU (host memory store), same run:"
echo "  page-out   $(gib_s "$out_bytes" "$out_ms") GiB/s   (${out_ms} ms)"
echo "  page-in    $(gib_s "$in_bytes" "$in_copy_ms") GiB/s   (${in_copy_ms} ms copying)"
echo "  memcpy     ${memcpy} GiB/s   (baseline: the same size into fresh memory)"
echo "  idle session's next call to its first kernel: paged ${paged_ms} ms, un-paged ${unpaged_ms} ms (baseline)"
