"""numba-cuda on a Tessera vGPU: @cuda.jit kernels (shared memory, atomics), device arrays, checked against
NumPy. Prints one line per check and exits 1 on the first mismatch. With TESSERA_EXPECT_MEMORY (bytes) set, it
also checks that the device's total memory is the vGPU's.
"""
import os
import sys

import numpy as np
from numba import cuda


def check(name, ok):
    print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    if not ok:
        sys.exit(1)


@cuda.jit
def add(x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] + y[i]


@cuda.jit
def block_sums(x, out):
    tile = cuda.shared.array(128, dtype=np.float32)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    tile[t] = x[i] if i < x.size else 0
    cuda.syncthreads()
    stride = 64
    while stride > 0:
        if t < stride:
            tile[t] += tile[t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        out[cuda.blockIdx.x] = tile[0]


@cuda.jit
def histogram(x, bins):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.add(bins, x[i] % bins.size, 1)


free, total = cuda.current_context().get_memory_info()
expected = os.environ.get("TESSERA_EXPECT_MEMORY")
if expected:
    check(f"device memory total {total} == vGPU {expected}", total == int(expected))
check("free <= total", 0 < free <= total)

n = 10_000
x = np.arange(n, dtype=np.float32)
y = np.full(n, 2, dtype=np.float32)
d_x, d_y = cuda.to_device(x), cuda.to_device(y)
d_out = cuda.device_array_like(x)
add[(n + 127) // 128, 128](d_x, d_y, d_out)
check("add kernel, device arrays", np.array_equal(d_out.copy_to_host(), x + y))

sums = cuda.device_array((n + 127) // 128, dtype=np.float32)
block_sums[(n + 127) // 128, 128](d_x, sums)
check("shared memory block sums", np.allclose(sums.copy_to_host().sum(), x.sum()))

values = cuda.to_device(np.arange(5000, dtype=np.int32))
bins = cuda.to_device(np.zeros(10, dtype=np.int32))
histogram[(5000 + 255) // 256, 256](values, bins)
check("atomics histogram", np.array_equal(bins.copy_to_host(), np.full(10, 500, dtype=np.int32)))

cuda.synchronize()
print("numba: all checks passed")
