// Features real kernels lean on: 128-bit vector and read-only loads, barrier reductions with a fence,
// half-precision conversions, and the sm_80 warp reductions and matches. Compiled for compute_80.

extern "C" __global__ void add_float4(const float4* a, const float4* b, float4* c, int n4) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 x = __ldg(&a[i]), y = b[i];
        c[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    }
}

extern "C" __global__ void barrier_votes(const int* in, int* out) {
    int v = in[blockIdx.x * blockDim.x + threadIdx.x];
    int count = __syncthreads_count(v > 10);
    int all = __syncthreads_and(v >= 0);
    int any = __syncthreads_or(v == 42);
    __threadfence();
    if (threadIdx.x == 0) {
        out[blockIdx.x * 3] = count;
        out[blockIdx.x * 3 + 1] = all;
        out[blockIdx.x * 3 + 2] = any;
    }
}

// Through inline PTX: cuda_fp16.h needs CCCL headers the PyPI compiler does not ship.
extern "C" __global__ void half_round_trip(const float* in, unsigned short* bits, float* back, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(in[i]));
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    bits[i] = h;
    back[i] = f;
}

extern "C" __global__ void warp_reductions(const int* in, int* out) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[tid];
    out[tid * 5 + 0] = __reduce_add_sync(0xffffffffu, v);
    out[tid * 5 + 1] = __reduce_min_sync(0xffffffffu, v);
    out[tid * 5 + 2] = (int)__reduce_max_sync(0xffffffffu, (unsigned)v);
    out[tid * 5 + 3] = (int)__match_any_sync(0xffffffffu, v % 3);
    out[tid * 5 + 4] = (int)__reduce_xor_sync(0xffffffffu, (unsigned)v);
}
