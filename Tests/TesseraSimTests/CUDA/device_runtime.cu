// What a GPU's driver and hardware provide beyond arithmetic: clocks that advance with the work done,
// device printf and assert, and grid-wide synchronisation in cooperative launches.
#include <cstdio>
#include <cassert>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

__device__ unsigned long long globaltimer() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// out[tid * 6 ...] = {clock64 before, after `spin` iterations, after a barrier, globaltimer before, after, acc}
extern "C" __global__ void clocks(long long* out, int spin) {
    long long c0 = clock64();
    unsigned long long g0 = globaltimer();
    int acc = threadIdx.x;
    for (int i = 0; i < spin * (int)(threadIdx.x / 32 + 1); i++) acc = acc * 3 + 1;
    long long c1 = clock64();
    unsigned long long g1 = globaltimer();
    __syncthreads();
    long long c2 = clock64();
    long long* o = out + (blockIdx.x * blockDim.x + threadIdx.x) * 6;
    o[0] = c0; o[1] = c1; o[2] = c2; o[3] = (long long)g0; o[4] = (long long)g1; o[5] = acc;
}

// simpleHyperQ's clock_block: spin until `cycles` have passed on the 32-bit clock.
extern "C" __global__ void clock_block(long long* out, long long cycles) {
    unsigned start = (unsigned)clock();
    long long elapsed = 0;
    while (elapsed < cycles) elapsed = (long long)((unsigned)clock() - start);
    out[0] = elapsed;
}

extern "C" __global__ void say(int n, float f) {
    printf("block %d thread %d: n=%d f=%.2f s=%s c=%c ll=%lld x=%#x e=%9.2e %%\n",
           blockIdx.x, threadIdx.x, n, f, "str", 'q', (long long)n << 33, 255, 1234.5);
}

extern "C" __global__ void check(const int* v) {
    assert(v[threadIdx.x] > 0);
}

// Two grid-wide barriers: block sums → a total computed by block 0 → every thread reads the total.
extern "C" __global__ void grid_total(const int* in, int* partial, int* out, int n) {
    cg::grid_group grid = cg::this_grid();
    __shared__ int sum;
    if (threadIdx.x == 0) sum = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) atomicAdd(&sum, in[i]);
    __syncthreads();
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    grid.sync();
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        int total = 0;
        for (int b = 0; b < gridDim.x; b++) total += partial[b];
        out[0] = total;
    }
    grid.sync();
    out[1 + blockIdx.x * blockDim.x + threadIdx.x] = out[0];
}
