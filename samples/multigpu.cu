// Several vGPUs in one program (on one node or on several): each device fills its own buffer and reports its
// own quota; device pointers are distinct; data moves between devices with cudaMemcpy and cudaMemcpyPeer.
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
    for (int a = 0; a < count; a++)
        for (int b = a + 1; b < count; b++)
            if (buffers[a] == buffers[b]) { printf("devices %d and %d share pointer %p\n", a, b, (void *)buffers[a]); return 10; }
    if (count > 1) {
        int last = count - 1, host[n];
        CHECK(cudaSetDevice(last));
        CHECK(cudaMemcpy(buffers[last], buffers[0], n * sizeof(int), cudaMemcpyDeviceToDevice));
        CHECK(cudaMemcpy(host, buffers[last], sizeof host, cudaMemcpyDeviceToHost));
        for (int i = 0; i < n; i++) {
            if (host[i] != i) { printf("device-to-device copy 0->%d mismatch at %d\n", last, i); return 8; }
        }
        fill<<<n / 128, 128>>>(buffers[last], 7, n);
        CHECK(cudaGetLastError());
        CHECK(cudaDeviceSynchronize());
        CHECK(cudaMemcpyPeer(buffers[0], 0, buffers[last], last, n * sizeof(int)));
        CHECK(cudaSetDevice(0));
        CHECK(cudaMemcpy(host, buffers[0], sizeof host, cudaMemcpyDeviceToHost));
        for (int i = 0; i < n; i++) {
            if (host[i] != 7 + i) { printf("peer copy %d->0 mismatch at %d\n", last, i); return 9; }
        }
    }
    if (cudaSetDevice(count) != cudaErrorInvalidDevice) { printf("device %d should not exist\n", count); return 7; }
    printf("multigpu OK devices=%d\n", count);
    return 0;
}
