#!/usr/bin/env bash
# From a fresh clone: builds Tessera (installing libzstd headers and OpenSSL 3's libssl when missing), installs
# CuPy from PyPI for the Python student (scripts/setup-python.sh) and runs `tessera demo`, which builds the CUDA
# samples with nvcc from PyPI and runs a classroom of programs on a pool of simulated GPUs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! [ -e /usr/include/zstd.h ]; then
  (apt-get install -y -q libzstd-dev >/dev/null 2>&1) || (apt-get update -q >/dev/null && apt-get install -y -q libzstd-dev >/dev/null)
fi
# libssl.so.3: the demo's programs and nodes speak TLS, through the system's OpenSSL 3 (loaded at run time).
if ! ldconfig -p 2>/dev/null | grep -q 'libssl.so.3'; then
  (apt-get install -y -q libssl3 >/dev/null 2>&1) || (apt-get update -q >/dev/null && apt-get install -y -q libssl3 >/dev/null) \
    || apt-get install -y -q libssl3t64 >/dev/null
fi
# The configuration scripts/test.sh builds (release, testable), so the demo after the tests reuses that build.
swift build -c release -Xswiftc -enable-testing
scripts/setup-python.sh >/dev/null
exec .build/release/tessera demo "$@"
