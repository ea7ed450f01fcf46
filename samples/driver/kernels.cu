// Kernels the driver-API sample loads as PTX (nvcc -ptx), as a cubin (nvcc -cubin) and as a fatbinary.
__device__ int counter;

extern "C" __global__ void scale(float *x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= a;
}

struct Pair { double weight; int offset; char tag; };

/// A by-value struct and an odd-sized tail: parameter layouts must come from the image, not from guesses.
extern "C" __global__ void weigh(float *out, Pair p, char c, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = (float)(p.weight * i) + p.offset + p.tag + c;
}

extern "C" __global__ void count(int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&counter, 1);
}
