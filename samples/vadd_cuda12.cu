// Built against libcudart.so.12 (see samples/build.sh): CUDA 12's cudaDeviceProp layout through
// cudaGetDeviceProperties_v2, and a kernel launched through the .so.12 entry points.
#include <cstring>
#include "common.h"

extern "C" cudaError_t cudaGetDeviceProperties_v2(void *prop, int device);

__global__ void triple(int *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = 3 * i;
}

int main() {
    int version = 0;
    CHECK(cudaRuntimeGetVersion(&version));
    // CUDA 12.x: 1032-byte struct, totalGlobalMem at 288, major at 360, multiProcessorCount at 388.
    alignas(8) unsigned char prop[1032 + 64];
    memset(prop, 0xEE, sizeof prop);
    CHECK(cudaGetDeviceProperties_v2(prop, 0));
    size_t total; int major, sms;
    memcpy(&total, prop + 288, 8); memcpy(&major, prop + 360, 4); memcpy(&sms, prop + 388, 4);
    if (prop[1032] != 0xEE) { printf("wrote past the CUDA 12 struct\n"); return 2; }
    printf("runtime=%d name=%s total=%zu major=%d sms=%d\n", version, (char *)prop, total, major, sms);
    if (version / 1000 != 12 || major < 7 || sms < 1) return 3;
    const int n = 512;
    int *d, h[n];
    CHECK(cudaMalloc(&d, sizeof h));
    triple<<<n / 128, 128>>>(d, n);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) if (h[i] != 3 * i) { printf("mismatch at %d\n", i); return 4; }
    printf("vadd_cuda12 OK\n");
    return 0;
}
