// A second, independent PTX module the driver-API sample links with kernels.cu through cuLink*.
extern "C" __global__ void fill(int *p, int value, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] = value;
}
