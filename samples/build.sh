#!/usr/bin/env bash
# Builds the CUDA samples into samples/bin with nvcc from PyPI (installed by scripts/setup-cuda.sh).
# Usage: samples/build.sh BUILD_DIR   — BUILD_DIR holds libTesseraCudart12.so (e.g. .build/debug), which the
# CUDA 12 sample links against as libcudart.so.12: only the CUDA 13 wheel ships nvcc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: samples/build.sh BUILD_DIR}" && pwd)
out="$root/samples/bin"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
nvcc=$("$root/scripts/setup-cuda.sh" | tail -n 1)
hostcxx=${CXX:-g++}
fresh() { [ "$1" -nt "$2" ] || [ "$root/samples/common.h" -nt "$2" ]; }
for src in "$root"/samples/*.cu; do
  name=$(basename "$src" .cu)
  [ "$name" = vadd_cuda12 ] && continue
  if [ ! -e "$out/$name" ] || fresh "$src" "$out/$name"; then
    "$nvcc" -O2 -cudart shared -o "$out/$name" "$src"
  fi
done
# A program bound to libcudart.so.12: nvcc compiles, the host compiler links against Tessera's .so.12.
src="$root/samples/vadd_cuda12.cu"
if [ ! -e "$out/vadd_cuda12" ] || fresh "$src" "$out/vadd_cuda12" || [ "$build/libTesseraCudart12.so" -nt "$out/vadd_cuda12" ]; then
  mkdir -p "$out/cuda12-link"
  ln -sf "$build/libTesseraCudart12.so" "$out/cuda12-link/libcudart.so.12"
  "$nvcc" -O2 -c -o "$out/vadd_cuda12.o" "$src"
  "$hostcxx" -o "$out/vadd_cuda12" "$out/vadd_cuda12.o" -L"$out/cuda12-link" -l:libcudart.so.12
  rm -f "$out/vadd_cuda12.o"
fi
echo "$out"
