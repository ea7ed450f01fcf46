// 2D and 3D grids and blocks: each thread records its coordinates at its own global linear index.
extern "C" __global__ void coordinates(unsigned* out) {
    unsigned bx = blockIdx.x, by = blockIdx.y, bz = blockIdx.z;
    unsigned block = (bz * gridDim.y + by) * gridDim.x + bx;
    unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    unsigned index = block * (blockDim.x * blockDim.y * blockDim.z) + thread;
    out[index * 4 + 0] = (bx << 20) | (by << 10) | bz;
    out[index * 4 + 1] = (threadIdx.x << 20) | (threadIdx.y << 10) | threadIdx.z;
    out[index * 4 + 2] = (gridDim.x << 20) | (gridDim.y << 10) | gridDim.z;
    out[index * 4 + 3] = (blockDim.x << 20) | (blockDim.y << 10) | blockDim.z;
}
