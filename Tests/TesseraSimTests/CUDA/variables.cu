// Module-scope state: __constant__ coefficients written by the host, an initialized __device__ table,
// and a __device__ counter the host reads back.
__constant__ float coefficients[4];
__device__ int offsets[8] = {10, 20, 30, 40, 50, 60, 70, 80};
__device__ unsigned int launches;
__device__ float* scratch;   // a device pointer the host stores into the module variable

extern "C" __global__ void polynomial(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i == 0) atomicAdd(&launches, 1u);
    if (i >= n) return;
    float v = x[i];
    y[i] = ((coefficients[3] * v + coefficients[2]) * v + coefficients[1]) * v + coefficients[0] + offsets[i % 8];
    scratch[i] = v * 2.0f;
}
