// Memory paths without kernels: malloc/free, pageable and pinned copies, memset, 2D copies, cudaMemGetInfo.
#include <cstring>
#include "common.h"

int main() {
    int count = 0;
    CHECK(cudaGetDeviceCount(&count));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("devices=%d name=%s total=%zu cc=%d.%d sms=%d\n", count, prop.name, prop.totalGlobalMem, prop.major, prop.minor,
           prop.multiProcessorCount);

    const size_t n = 1 << 20;
    char *d = nullptr, *d2 = nullptr;
    CHECK(cudaMalloc(&d, n));
    CHECK(cudaMalloc(&d2, n));
    size_t freeB = 0, totalB = 0;
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    printf("meminfo free=%zu total=%zu\n", freeB, totalB);

    // Pageable round trip.
    char *h = (char *)malloc(n), *back = (char *)malloc(n);
    for (size_t i = 0; i < n; i++) h[i] = (char)(i * 7 + 3);
    CHECK(cudaMemcpy(d, h, n, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(d2, d, n, cudaMemcpyDeviceToDevice));
    CHECK(cudaMemcpy(back, d2, n, cudaMemcpyDeviceToHost));
    if (memcmp(h, back, n) != 0) { printf("pageable mismatch\n"); return 2; }

    // Pinned round trip, asynchronous on a stream.
    char *p = nullptr, *pb = nullptr;
    CHECK(cudaMallocHost(&p, n));
    CHECK(cudaHostAlloc(&pb, n, cudaHostAllocDefault));
    for (size_t i = 0; i < n; i++) p[i] = (char)(i * 13 + 1);
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    CHECK(cudaMemcpyAsync(d, p, n, cudaMemcpyHostToDevice, s));
    CHECK(cudaMemsetAsync(d + 100, 0x5a, 50, s));
    CHECK(cudaMemcpyAsync(pb, d, n, cudaMemcpyDeviceToHost, s));
    CHECK(cudaStreamSynchronize(s));
    for (size_t i = 0; i < n; i++) {
        char want = (i >= 100 && i < 150) ? 0x5a : (char)(i * 13 + 1);
        if (pb[i] != want) { printf("pinned mismatch at %zu\n", i); return 3; }
    }

    // Default-direction copy and a 2D copy.
    CHECK(cudaMemcpy(back, d, 4096, cudaMemcpyDefault));
    if (memcmp(back, pb, 4096) != 0) { printf("default-kind mismatch\n"); return 4; }
    char *pitched = nullptr;
    size_t pitch = 0;
    CHECK(cudaMallocPitch(&pitched, &pitch, 100, 10));
    CHECK(cudaMemcpy2D(pitched, pitch, h, 100, 100, 10, cudaMemcpyHostToDevice));
    char grid[1000];
    CHECK(cudaMemcpy2D(grid, 100, pitched, pitch, 100, 10, cudaMemcpyDeviceToHost));
    if (memcmp(grid, h, 1000) != 0) { printf("2D mismatch\n"); return 5; }

    // Events time a copy.
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    CHECK(cudaEventRecord(a, s));
    CHECK(cudaMemcpyAsync(d2, p, n, cudaMemcpyHostToDevice, s));
    CHECK(cudaEventRecord(b, s));
    CHECK(cudaEventSynchronize(b));
    float ms = -1;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    if (ms < 0) { printf("bad elapsed time\n"); return 6; }

    CHECK(cudaStreamDestroy(s));
    CHECK(cudaFreeHost(p));
    CHECK(cudaFreeHost(pb));
    CHECK(cudaFree(d));
    CHECK(cudaFree(d2));
    CHECK(cudaFree(pitched));
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    printf("after free: free=%zu total=%zu\n", freeB, totalB);
    // A pageable copy larger than the shared staging area travels in the frames.
    const size_t big = 20 << 20;
    char *hb = (char *)malloc(big), *hb2 = (char *)malloc(big), *db = nullptr;
    for (size_t i = 0; i < big; i++) hb[i] = (char)(i * 31 + (i >> 20));
    CHECK(cudaMalloc(&db, big));
    CHECK(cudaMemcpy(db, hb, big, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(hb2, db, big, cudaMemcpyDeviceToHost));
    if (memcmp(hb, hb2, big) != 0) { printf("large pageable mismatch\n"); return 7; }
    // cudaDeviceReset frees everything the program holds on the device.
    char *leak = nullptr;
    CHECK(cudaMalloc(&leak, 1 << 20));
    CHECK(cudaDeviceReset());
    CHECK(cudaMemGetInfo(&freeB, &totalB));
    if (freeB != totalB) { printf("reset left %zu bytes allocated\n", totalB - freeB); return 8; }
    printf("memops OK\n");
    return 0;
}
