#!/usr/bin/env bash
# Installs the Python CUDA clients the tests drive through Tessera (CuPy, numba-cuda with NVRTC and nvJitLink
# from PyPI; no GPU needed) into a project-local virtual environment, `.venv-py/`, and prints its python path.
# Idempotent: a second run only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-py"
if ! "$venv/bin/python3" -c 'import cupy, numba.cuda' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cupy-cuda13x==14.2.0" "numba-cuda[cu13]==0.30.4"
fi
echo "$venv/bin/python3"
