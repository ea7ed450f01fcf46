// Several vGPUs in one program: each device fills its own buffer; each reports its own quota.
// Usage: multigpu EXPECTED_DEVICES QUOTA_MIB
#include "common.h"

__global__ void fill(int *x, int value, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = value + i;
}

int main(int argc, char **argv) {
    int expected = argc > 1 ? atoi(argv[1]) : 2;
    size_t quota = (argc > 2 ? atol(argv[2]) : 64) << 20;
    int count = 0;
    CHECK(cudaGetDeviceCount(&count));
    if (count != expected) { printf("device count %d, expected %d\n", count, expected); return 2; }
    const int n = 1024;
    int *buffers[64];
    for (int d = 0; d < count; d++) {
        CHECK(cudaSetDevice(d));
        int current = -1;
        CHECK(cudaGetDevice(&current));
        if (current != d) { printf("cudaGetDevice=%d\n", current); return 3; }
        cudaDeviceProp prop;
        CHECK(cudaGetDeviceProperties(&prop, d));
        size_t freeB, totalB;
        CHECK(cudaMemGetInfo(&freeB, &totalB));
        if (prop.totalGlobalMem != quota || totalB != quota) {
            printf("device %d: totalGlobalMem=%zu total=%zu, expected %zu\n", d, prop.totalGlobalMem, totalB, quota);
            return 4;
        }
        CHECK(cudaMalloc(&buffers[d], n * sizeof(int)));
        fill<<<n / 128, 128>>>(buffers[d], d * 100000, n);
        CHECK(cudaGetLastError());
    }
    for (int d = 0; d < count; d++) {
        CHECK(cudaSetDevice(d));
        CHECK(cudaDeviceSynchronize());
        int host[n];
        CHECK(cudaMemcpy(host, buffers[d], sizeof host, cudaMemcpyDeviceToHost));
        for (int i = 0; i < n; i++) {
            if (host[i] != d * 100000 + i) { printf("device %d mismatch at %d\n", d, i); return 5; }
        }
        size_t freeB, totalB;
        CHECK(cudaMemGetInfo(&freeB, &totalB));
        if (freeB != totalB - n * sizeof(int)) { printf("device %d free=%zu\n", d, freeB); return 6; }
    }
    if (cudaSetDevice(count) != cudaErrorInvalidDevice) { printf("device %d should not exist\n", count); return 7; }
    printf("multigpu OK devices=%d\n", count);
    return 0;
}
