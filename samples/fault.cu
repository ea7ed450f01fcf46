// Faults stay with the program that made them. Usage: fault kernel|copy|memset|free
#include <cstring>
#include "common.h"

__global__ void poke(int *p) { p[threadIdx.x] = 42; }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "kernel";
    int *good;
    CHECK(cudaMalloc(&good, 1024));
    // An address no allocation of this program covers (a neighbour's, or nothing at all).
    int *bogus = (int *)((char *)good + (64 << 20));
    if (!strcmp(mode, "kernel")) {
        poke<<<1, 32>>>(bogus);
        cudaError_t e = cudaDeviceSynchronize();
        printf("sync=%d\n", (int)e);
        if (e != cudaErrorIllegalAddress) return 2;
        // Sticky: later calls keep failing.
        cudaError_t again = cudaMemcpy(good, good, 4, cudaMemcpyDeviceToDevice);
        printf("after=%d\n", (int)again);
        if (again != cudaErrorIllegalAddress) return 3;
    } else if (!strcmp(mode, "copy")) {
        int host[16] = {0};
        cudaError_t e = cudaMemcpy(host, bogus, sizeof host, cudaMemcpyDeviceToHost);
        printf("copy=%d\n", (int)e);
        if (e != cudaErrorInvalidValue) return 2;
        e = cudaMemcpy(bogus, host, sizeof host, cudaMemcpyHostToDevice);
        if (e != cudaErrorInvalidValue) return 3;
        // Not sticky: the program goes on.
        CHECK(cudaMemcpy(good, host, sizeof host, cudaMemcpyHostToDevice));
    } else if (!strcmp(mode, "memset")) {
        CHECK(cudaMemset(bogus, 0, 64));  // pipelined: accepted now, reported at the next synchronizing call
        cudaError_t e = cudaDeviceSynchronize();
        printf("sync=%d\n", (int)e);
        if (e != cudaErrorInvalidValue) return 2;
        CHECK(cudaDeviceSynchronize());
    } else if (!strcmp(mode, "free")) {
        cudaError_t e = cudaFree(bogus);
        printf("free=%d\n", (int)e);
        if (e != cudaErrorInvalidValue) return 2;
    }
    printf("fault OK %s\n", mode);
    return 0;
}
