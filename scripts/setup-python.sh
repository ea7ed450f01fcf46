#!/usr/bin/env bash
# Installs the Python CUDA clients the tests drive through Tessera (CuPy, numba-cuda with NVRTC and nvJitLink
# from PyPI; no GPU needed), Prometheus' Python client (its text-format parser checks /metrics) and Playwright
# (it drives the system's Chromium for the dashboard's browser test; never `playwright install`), and nbclient,
# nbformat and ipykernel (the notebook test runs a real notebook with python/tessera-jupyter's magics) into a
# project-local virtual environment, `.venv-py/`, and prints its python path.
# Idempotent: a second run only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-py"
if ! "$venv/bin/python3" -c 'import cupy, numba.cuda, prometheus_client, playwright, nbclient, nbformat, ipykernel' >/dev/null 2>&1; then
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cupy-cuda13x==14.2.0" "numba-cuda[cu13]==0.30.4" \
    "prometheus-client==0.26.0" "playwright==1.65.3" "nbclient==0.11.0" "nbformat==5.11.1" "ipykernel==7.4.0"
fi
echo "$venv/bin/python3"
