// The vGPU's memory quota is exact. Usage: quota QUOTA_MIB
#include "common.h"

int main(int argc, char **argv) {
    size_t quota = (argc > 1 ? atol(argv[1]) : 64) << 20;
    size_t freeB = 0, totalB = 0;
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    if (totalB != quota || freeB != quota) { printf("meminfo free=%zu total=%zu, expected %zu\n", freeB, totalB, quota); return 2; }
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    if (prop.totalGlobalMem != quota) { printf("totalGlobalMem=%zu\n", prop.totalGlobalMem); return 3; }
    void *big, *rest, *extra;
    CHECK(cudaMalloc(&big, quota - 4096));
    if (cudaMalloc(&extra, 4097) != cudaErrorMemoryAllocation) { printf("4097 bytes past the quota were granted\n"); return 4; }
    if (cudaGetLastError() != cudaErrorMemoryAllocation) { printf("last error not recorded\n"); return 5; }
    CHECK(cudaMalloc(&rest, 4096));
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    if (freeB != 0) { printf("free=%zu after filling the quota\n", freeB); return 6; }
    if (cudaMalloc(&extra, 1) != cudaErrorMemoryAllocation) { printf("1 byte past the quota was granted\n"); return 7; }
    (void)cudaGetLastError();
    CHECK(cudaFree(rest));
    CHECK(cudaFree(big));
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    if (freeB != quota) { printf("free=%zu after freeing everything\n", freeB); return 8; }
    if (cudaMalloc(&extra, quota + 1) != cudaErrorMemoryAllocation) { printf("quota+1 granted\n"); return 9; }
    printf("quota OK %zu\n", quota);
    return 0;
}
