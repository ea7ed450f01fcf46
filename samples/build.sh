#!/usr/bin/env bash
# Builds the CUDA samples into samples/bin with nvcc from PyPI (installed by scripts/setup-cuda.sh).
# Usage: samples/build.sh BUILD_DIR   — BUILD_DIR holds libTesseraCudart12.so and libTesseraCuda.so (e.g.
# .build/release), which the CUDA 12 sample links against as libcudart.so.12 (only the CUDA 13 wheel ships
# nvcc) and the driver-API sample as libcuda.so.1.
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
# The same programs with nvcc's default flags: NVIDIA's runtime linked in statically, reaching the GPU through
# libcuda.so.1 (Tessera's driver library under `tessera run`).
mkdir -p "$out/static"
for src in "$root"/samples/*.cu; do
  name=$(basename "$src" .cu)
  [ "$name" = vadd_cuda12 ] && continue
  if [ ! -e "$out/static/$name" ] || fresh "$src" "$out/static/$name"; then
    "$nvcc" -O2 -o "$out/static/$name" "$src"
  fi
done
# A program written against the driver API (cuda.h), and the images it loads: PTX, a cubin, and a fatbinary
# holding machine code only.
include=$(dirname "$nvcc")/../include
drv="$root/samples/driver"
mkdir -p "$out/driver"
if [ ! -e "$out/driver/kernels.ptx" ] || [ "$drv/kernels.cu" -nt "$out/driver/kernels.ptx" ] || [ "$drv/more.cu" -nt "$out/driver/more.ptx" ]; then
  "$nvcc" -ptx -o "$out/driver/kernels.ptx" "$drv/kernels.cu"
  "$nvcc" -ptx -o "$out/driver/more.ptx" "$drv/more.cu"
  "$nvcc" -cubin -arch=sm_75 -o "$out/driver/kernels.cubin" "$drv/kernels.cu"
  "$nvcc" -fatbin -gencode arch=compute_75,code=sm_75 -o "$out/driver/sm_only.fatbin" "$drv/kernels.cu"
fi
if [ ! -e "$out/driver/driver_api" ] || [ "$drv/driver_api.c" -nt "$out/driver/driver_api" ] || [ "$build/libTesseraCuda.so" -nt "$out/driver/driver_api" ]; then
  mkdir -p "$out/driver/link"
  ln -sf "$build/libTesseraCuda.so" "$out/driver/link/libcuda.so.1"
  ln -sf libcuda.so.1 "$out/driver/link/libcuda.so"
  cc -O2 -I"$include" -o "$out/driver/driver_api" "$drv/driver_api.c" -L"$out/driver/link" -lcuda -ldl
fi
# Virtual memory management through the driver API.
if [ ! -e "$out/driver/vmm" ] || [ "$drv/vmm.c" -nt "$out/driver/vmm" ] || [ "$build/libTesseraCuda.so" -nt "$out/driver/vmm" ]; then
  mkdir -p "$out/driver/link"
  ln -sf "$build/libTesseraCuda.so" "$out/driver/link/libcuda.so.1"
  ln -sf libcuda.so.1 "$out/driver/link/libcuda.so"
  cc -O2 -I"$include" -o "$out/driver/vmm" "$drv/vmm.c" -L"$out/driver/link" -lcuda
fi
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
