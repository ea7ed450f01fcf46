// Stores at out[index]: an index past the allocation is an illegal address on a real GPU.
extern "C" __global__ void store_at(int* out, long long index, int value) {
    if (threadIdx.x == 0 && blockIdx.x == 0) out[index] = value;
}

// Every thread writes its own element; the launch covers more threads than elements, unguarded.
extern "C" __global__ void unguarded_fill(int* out, int value) {
    out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}
