// Sums with warp shuffles: each warp reduces with __shfl_down_sync, warp leaders combine through shared
// memory, and each block adds its total to the result with one atomic.
__device__ __forceinline__ int warp_sum(int v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

extern "C" __global__ void reduce_sum_i32(const int* in, int n, unsigned long long* total) {
    __shared__ int partial[32];
    int v = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) v += in[i];
    v = warp_sum(v);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (blockDim.x + 31) / 32 ? partial[lane] : 0;
        v = warp_sum(v);
        if (lane == 0) atomicAdd(total, (unsigned long long)(long long)v);
    }
}

extern "C" __global__ void reduce_sum_f32(const float* in, int n, float* total) {
    float v = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) v += in[i];
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) atomicAdd(total, v);
}
