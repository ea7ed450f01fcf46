#!/usr/bin/env bash
# Installs NVIDIA's CUDA compiler (no GPU needed) into a project-local virtual environment, `.venv-cuda/`,
# and prints the nvcc path. Idempotent: a second run only checks.
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
cu=$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13)
# nvcc's linker step looks for the unversioned name; the wheel ships only the soname.
[ -e "$cu/lib/libcudart.so" ] || ln -sf libcudart.so.13 "$cu/lib/libcudart.so"
echo "$cu/bin/nvcc"
