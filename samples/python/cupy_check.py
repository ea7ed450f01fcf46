"""CuPy on a Tessera vGPU: arrays, reductions (CUB and CuPy's own), ElementwiseKernel, ReductionKernel, RawKernel
and RawModule, checked against NumPy. Prints one line per check and exits 1 on the first mismatch.

Run it as a student would: `tessera run --memory 1GiB -- python3 cupy_check.py`. With TESSERA_EXPECT_MEMORY
(bytes) set, it also checks that the device's total memory is the vGPU's.
"""
import os
import sys

import cupy as cp
import numpy as np


def check(name, ok):
    print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    if not ok:
        sys.exit(1)


free, total = cp.cuda.runtime.memGetInfo()
expected = os.environ.get("TESSERA_EXPECT_MEMORY")
if expected:
    check(f"device memory total {total} == vGPU {expected}", total == int(expected))
check("free <= total", 0 < free <= total)
props = cp.cuda.runtime.getDeviceProperties(0)
check(f"device {props['name'].decode()} totalGlobalMem == memGetInfo total", props["totalGlobalMem"] == total)

a = cp.arange(100_000, dtype=cp.float32)
b = cp.ones(100_000, dtype=cp.float32)
c = a + b
check("arange + ones", np.array_equal(cp.asnumpy(c), np.arange(100_000, dtype=np.float32) + 1))

x = cp.arange(1 << 16, dtype=cp.int64)
check("sum (int64)", int(x.sum()) == (1 << 16) * ((1 << 16) - 1) // 2)
y = cp.asarray(np.random.default_rng(7).standard_normal(50_000).astype(np.float64))
host = cp.asnumpy(y)
check("sum (float64)", abs(float(y.sum()) - host.sum()) < 1e-9 * max(1.0, abs(host.sum())))
check("max / argmin", float(y.max()) == host.max() and int(y.argmin()) == int(host.argmin()))
m = cp.arange(12, dtype=cp.float32).reshape(3, 4)
check("sum over an axis", np.array_equal(cp.asnumpy(m.sum(axis=1)), np.arange(12, dtype=np.float32).reshape(3, 4).sum(axis=1)))

# CuPy's prebuilt CUB library (a second NVIDIA runtime inside CuPy, loading a fatbinary of machine code and
# compute_120 PTX through the driver): on by default, and called directly so that no fallback hides a failure.
from cupy._core import _accelerator
from cupy.cuda import cub

if "CUPY_ACCELERATORS" not in os.environ:
    check("CUB is CuPy's reduction accelerator", _accelerator.ACCELERATOR_CUB in _accelerator.get_reduction_accelerators())
ints = cp.arange(100_000, dtype=cp.int64) % 1000
total = cub.cub_reduction(ints, cub.CUPY_CUB_SUM)
check("CUB device reduce (sum)", total is not None and int(total) == int(cp.asnumpy(ints).sum()))
check("CUB device reduce (max, argmin)",
      float(cub.cub_reduction(y, cub.CUPY_CUB_MAX)) == host.max() and int(cub.cub_reduction(y, cub.CUPY_CUB_ARGMIN)) == int(host.argmin()))
rows = cub.cub_reduction(m, cub.CUPY_CUB_SUM, axis=1)
check("CUB segmented reduce (sum over an axis)", rows is not None and np.array_equal(cp.asnumpy(rows), np.arange(12, dtype=np.float32).reshape(3, 4).sum(axis=1)))
scanned = cub.device_scan(cp.arange(5000, dtype=cp.int64), cub.CUPY_CUB_CUMSUM)
check("CUB device scan (cumsum)", np.array_equal(cp.asnumpy(scanned), np.cumsum(np.arange(5000, dtype=np.int64))))

squared_diff = cp.ElementwiseKernel("float32 x, float32 y", "float32 z", "z = (x - y) * (x - y)", "squared_diff")
z = squared_diff(a[:1024], b[:1024])
check("ElementwiseKernel", np.allclose(cp.asnumpy(z), (np.arange(1024, dtype=np.float32) - 1) ** 2))

l2 = cp.ReductionKernel("T x", "T y", "x * x", "a + b", "y = sqrt(a)", "0", "l2norm")
v = cp.arange(10, dtype=cp.float32)
check("ReductionKernel", abs(float(l2(v)) - float(np.sqrt((np.arange(10) ** 2).sum()))) < 1e-4)

raw = cp.RawKernel(r'''
extern "C" __global__ void scale(const float* x, float* y, float s, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = s * x[i];
}''', "scale")
out = cp.empty_like(a)
raw(((a.size + 255) // 256,), (256,), (a, out, cp.float32(3.0), cp.int32(a.size)))
check("RawKernel", np.array_equal(cp.asnumpy(out), 3 * np.arange(100_000, dtype=np.float32)))

module = cp.RawModule(code=r'''
extern "C" {
__device__ int counter;
__global__ void count(const int* x, int n) {
    __shared__ int local;
    if (threadIdx.x == 0) local = 0;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && x[i] % 3 == 0) atomicAdd(&local, 1);
    __syncthreads();
    if (threadIdx.x == 0) atomicAdd(&counter, local);
}
}''')
count = module.get_function("count")
data = cp.arange(3000, dtype=cp.int32)
count(((3000 + 127) // 128,), (128,), (data, cp.int32(3000)))
counter = module.get_global("counter")
value = cp.ndarray((1,), cp.int32, counter)
check("RawModule (shared memory, atomics, globals)", int(value[0]) == 1000)

cp.cuda.Device(0).synchronize()
print("cupy: all checks passed")
