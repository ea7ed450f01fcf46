#!/usr/bin/env bash
# Installs NVIDIA's CUDA compiler (no GPU needed) into a project-local virtual environment, `.venv-cuda/`,
# and prints the nvcc path. Idempotent: a second run only checks.
# It also installs the CUDA C++ headers device code includes (CCCL: <nv/target>, which cuda_fp16.h needs,
# cooperative groups' helpers, CUB) and the profiler API NVIDIA's cuda-samples include.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-cuda"
version=13.5.37
nvcc="$venv/lib/python3*/site-packages/nvidia/cu13/bin/nvcc"
if ! ls $nvcc >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "nvidia-cuda-nvcc==$version" "nvidia-cuda-runtime==$version" "nvidia-cuda-crt==$version"
fi
if ! ls "$venv"/lib/python3*/site-packages/nvidia/cu13/include/cuda_profiler_api.h >/dev/null 2>&1; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "nvidia-cuda-cccl==13.3.5.0.6" "nvidia-cuda-profiler-api==13.5.25"
fi
cu=$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13)
# nvcc's linker step looks for the unversioned name; the wheel ships only the soname.
[ -e "$cu/lib/libcudart.so" ] || ln -sf libcudart.so.13 "$cu/lib/libcudart.so"
echo "$cu/bin/nvcc"
