// Reverses each block's slice through dynamically sized shared memory (extern __shared__).
extern "C" __global__ void reverse_blocks(const int* in, int* out, int n) {
    extern __shared__ int buffer[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) buffer[threadIdx.x] = in[i];
    __syncthreads();
    int j = blockDim.x - 1 - threadIdx.x;
    int source = blockIdx.x * blockDim.x + j;
    if (i < n && source < n) out[i] = buffer[j];
}
