// Device-side output and the features NVIDIA's samples lean on: printf (delivered in order at synchronisation
// points), the printf FIFO limit, assert (cudaErrorAssert, sticky), cooperative launch with grid-wide sync,
// stream-ordered allocation, mapped host memory and pinned copies. Usage: devout printf|fifo|assert|cooperative|pool|zerocopy [rounds]|unfollowed|attributes|pinned
#include <cassert>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <cooperative_groups.h>
#include "common.h"

namespace cg = cooperative_groups;

__global__ void lines(int launch, int count) {
    // One thread prints, so the order within a launch is the program's order.
    for (int i = 0; i < count; i++) printf("device launch %d line %d value %.2f\n", launch, i, i * 0.5);
}

__global__ void checkPositive(const int *values, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) assert(values[i] > 0);
}

__global__ void gridSum(int *slots, int *total) {
    cg::grid_group grid = cg::this_grid();
    if (threadIdx.x == 0) slots[blockIdx.x] = blockIdx.x + 1;
    grid.sync();  // every block's slot is written before block 0 reads them
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        int sum = 0;
        for (int b = 0; b < gridDim.x; b++) sum += slots[b];
        *total = sum;
    }
}

__global__ void fill(int *data, int n, int value) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) data[i] = value + i;
}

static int printfOrder() {
    printf("host before\n");
    lines<<<1, 1>>>(1, 3);
    lines<<<1, 1>>>(2, 2);
    CHECK(cudaDeviceSynchronize());
    printf("host after\n");
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    lines<<<1, 1, 0, s>>>(3, 1);
    CHECK(cudaStreamSynchronize(s));
    printf("host end\n");
    return 0;
}

static int fifoLimit() {
    size_t size = 0;
    CHECK(cudaDeviceSetLimit(cudaLimitPrintfFifoSize, 4096));
    CHECK(cudaDeviceGetLimit(&size, cudaLimitPrintfFifoSize));
    printf("fifo=%zu\n", size);
    lines<<<1, 1>>>(7, 1000);  // about 37 kB: more than the FIFO holds, so the rest is dropped
    CHECK(cudaDeviceSynchronize());
    return 0;
}

static int assertFails() {
    const int n = 64;
    int host[n];
    for (int i = 0; i < n; i++) host[i] = i == 37 ? -5 : i + 1;
    int *d;
    CHECK(cudaMalloc(&d, sizeof host));
    CHECK(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice));
    checkPositive<<<2, 32>>>(d, n);
    cudaError_t e = cudaDeviceSynchronize();
    printf("sync=%d %s\n", (int)e, cudaGetErrorName(e));
    cudaError_t again = cudaMemcpy(host, d, sizeof host, cudaMemcpyDeviceToHost);
    printf("after=%d %s\n", (int)again, cudaGetErrorName(again));
    printf("last=%d\n", (int)cudaGetLastError());
    return 0;
}

static int cooperative() {
    int supported = 0, sms = 0, perSM = 0;
    CHECK(cudaDeviceGetAttribute(&supported, cudaDevAttrCooperativeLaunch, 0));
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSM, gridSum, 64, 0));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("attribute=%d prop=%d\n", supported, prop.cooperativeLaunch);
    int blocks = 8, *slots, *total;
    CHECK(cudaMalloc(&slots, 4096 * sizeof(int)));
    CHECK(cudaMalloc(&total, sizeof(int)));
    void *args[] = {&slots, &total};
    CHECK(cudaLaunchCooperativeKernel((void *)gridSum, dim3(blocks), dim3(64), args, 0, 0));
    int sum = 0;
    CHECK(cudaMemcpy(&sum, total, sizeof sum, cudaMemcpyDeviceToHost));
    printf("grid sum=%d\n", sum);
    cudaError_t e = cudaLaunchCooperativeKernel((void *)gridSum, dim3(perSM * sms + 1), dim3(64), args, 0, 0);
    printf("too large=%d %s\n", (int)e, cudaGetErrorName(e));
    CHECK(cudaDeviceSynchronize());  // not sticky: the context still works
    printf("cooperative OK\n");
    return 0;
}

static int pool() {
    int supported = 0;
    CHECK(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, 0));
    cudaMemPool_t mempool;
    CHECK(cudaDeviceGetDefaultMemPool(&mempool, 0));
    uint64_t threshold = UINT64_MAX;
    CHECK(cudaMemPoolSetAttribute(mempool, cudaMemPoolAttrReleaseThreshold, &threshold));
    cudaStream_t s;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    const int n = 1000;
    int *d, host[n];
    CHECK(cudaMallocAsync(&d, n * sizeof(int), s));
    fill<<<(n + 255) / 256, 256, 0, s>>>(d, n, 10);
    CHECK(cudaMemcpyAsync(host, d, sizeof host, cudaMemcpyDeviceToHost, s));
    CHECK(cudaFreeAsync(d, s));
    CHECK(cudaStreamSynchronize(s));
    for (int i = 0; i < n; i++) if (host[i] != 10 + i) { printf("mismatch at %d\n", i); return 2; }
    size_t free0, total;
    CHECK(cudaMemGetInfo(&free0, &total));
    // More than the vGPU holds is refused, as cudaMalloc would be.
    void *big = nullptr;
    cudaError_t e = cudaMallocAsync(&big, total + (1 << 20), s);
    printf("pools=%d over quota=%d\n", supported, (int)e);
    printf("pool OK\n");
    return 0;
}

// Mapped host memory: the kernel writes the host's pages directly; the device pointer is the host pointer.
// `rounds` allocations in turn, each freed before the next (which may reuse its address).
static int zeroCopy(int rounds) {
    const int n = 4096;
    int same = 1;
    CHECK(cudaSetDeviceFlags(cudaDeviceMapHost));
    for (int round = 0; round < rounds; round++) {
        int *host, *device;
        CHECK(cudaHostAlloc(&host, n * sizeof(int), cudaHostAllocMapped));
        CHECK(cudaHostGetDevicePointer((void **)&device, host, 0));
        fill<<<(n + 255) / 256, 256>>>(device, n, 3 + round);
        CHECK(cudaDeviceSynchronize());
        for (int i = 0; i < n; i++) if (host[i] != 3 + round + i) { printf("mismatch at %d: %d\n", i, host[i]); return 2; }
        CHECK(cudaFreeHost(host));
        same &= device == host;
    }
    printf("zerocopy OK same=%d rounds=%d\n", same, rounds);
    return 0;
}

__global__ void addOne(unsigned char *d, size_t n) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) d[i] += 1;
}

// Pinned copies of several sizes (past the 16 MiB inline chunk), both ways, at odd offsets into the pinned
// buffers; then the same on a stream, asynchronously, with a kernel between the copies (stream order).
static int pinned() {
    const size_t sizes[] = {1, 4095, (1 << 20) + 3, (size_t)20 << 20};
    const size_t most = (size_t)20 << 20, offset = 13;
    unsigned char *in, *out, *d;
    CHECK(cudaMallocHost((void **)&in, most + offset));
    CHECK(cudaHostAlloc((void **)&out, most + offset, cudaHostAllocDefault));
    CHECK(cudaMalloc((void **)&d, most));
    for (size_t n : sizes) {
        for (size_t i = 0; i < n; i++) in[offset + i] = (unsigned char)(i * 7 + n);
        memset(out, 0, most + offset);
        CHECK(cudaMemcpy(d, in + offset, n, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(out + offset, d, n, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; i++) if (out[offset + i] != in[offset + i]) { printf("sync %zu: mismatch at %zu\n", n, i); return 2; }
        if (out[offset - 1] != 0 || out[offset + n] != 0) { printf("sync %zu: wrote outside\n", n); return 2; }
    }
    // Pageable memory the same way (through the session's staging area, itself shared memory, or inline).
    unsigned char *pageable = (unsigned char *)malloc(most + offset);
    for (size_t n : sizes) {
        memset(pageable, 0, most + offset);
        CHECK(cudaMemcpy(d, in + offset, n, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(pageable + offset, d, n, cudaMemcpyDeviceToHost));
        CHECK(cudaMemcpy(d, pageable + offset, n, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(out + offset, d, n, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; i++) if (out[offset + i] != in[offset + i]) { printf("pageable %zu: mismatch at %zu\n", n, i); return 2; }
    }
    free(pageable);
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    for (size_t n : sizes) {
        for (size_t i = 0; i < n; i++) in[offset + i] = (unsigned char)(i * 3 + n);
        memset(out, 0, most + offset);
        CHECK(cudaMemcpyAsync(d, in + offset, n, cudaMemcpyHostToDevice, s));
        addOne<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(d, n);
        CHECK(cudaMemcpyAsync(out + offset, d, n, cudaMemcpyDeviceToHost, s));
        CHECK(cudaStreamSynchronize(s));
        for (size_t i = 0; i < n; i++) {
            if (out[offset + i] != (unsigned char)(in[offset + i] + 1)) { printf("async %zu: mismatch at %zu\n", n, i); return 2; }
        }
    }
    CHECK(cudaStreamDestroy(s));
    CHECK(cudaFree(d));
    CHECK(cudaFreeHost(in));
    CHECK(cudaFreeHost(out));
    printf("pinned OK sizes=%zu\n", sizeof sizes / sizeof sizes[0]);
    return 0;
}

// A launch the program never follows with a CUDA call still runs: the kernel writes mapped host memory and
// the host waits for it by reading that memory only (up to 20 s), as a program that launches work and then
// computes on the host would.
static int unfollowedLaunch() {
    const int n = 4096;
    int *host, *device;
    CHECK(cudaSetDeviceFlags(cudaDeviceMapHost));
    CHECK(cudaHostAlloc(&host, n * sizeof(int), cudaHostAllocMapped));
    CHECK(cudaHostGetDevicePointer((void **)&device, host, 0));
    memset(host, 0, n * sizeof(int));
    fill<<<(n + 255) / 256, 256>>>(device, n, 5);
    volatile int *last = host + n - 1;
    time_t start = time(nullptr);
    while (*last != 5 + n - 1 && time(nullptr) - start < 20) usleep(1000);
    bool ran = *last == 5 + n - 1;
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaFreeHost(host));
    printf(ran ? "unfollowed launch ran\n" : "unfollowed launch never reached the GPU\n");
    return ran ? 0 : 3;
}

// Persisting-L2 hints, as simpleAttributes sets them: an access-policy window on a stream, read back and copied
// to another stream; the persisting lines reset. Hints only: the kernel's results are unchanged.
static int attributes() {
    const int n = 1024;
    int *d;
    cudaStream_t s, t;
    CHECK(cudaMalloc(&d, n * sizeof(int)));
    CHECK(cudaStreamCreate(&s));
    CHECK(cudaStreamCreate(&t));
    cudaStreamAttrValue v = {};
    v.accessPolicyWindow.base_ptr = d;
    v.accessPolicyWindow.num_bytes = n * sizeof(int);
    v.accessPolicyWindow.hitRatio = 1.0f;
    v.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
    v.accessPolicyWindow.missProp = cudaAccessPropertyNormal;
    CHECK(cudaStreamSetAttribute(s, cudaStreamAttributeAccessPolicyWindow, &v));
    CHECK(cudaCtxResetPersistingL2Cache());
    cudaStreamAttrValue back = {};
    CHECK(cudaStreamGetAttribute(s, cudaStreamAttributeAccessPolicyWindow, &back));
    CHECK(cudaStreamCopyAttributes(t, s));
    cudaStreamAttrValue copied = {};
    CHECK(cudaStreamGetAttribute(t, cudaStreamAttributeAccessPolicyWindow, &copied));
    fill<<<(n + 255) / 256, 256, 0, s>>>(d, n, 7);
    int h[n];
    CHECK(cudaMemcpyAsync(h, d, sizeof h, cudaMemcpyDeviceToHost, s));
    CHECK(cudaStreamSynchronize(s));
    for (int i = 0; i < n; i++) if (h[i] != 7 + i) { printf("mismatch at %d\n", i); return 2; }
    bool same = back.accessPolicyWindow.base_ptr == d && back.accessPolicyWindow.num_bytes == n * sizeof(int) &&
                back.accessPolicyWindow.hitProp == cudaAccessPropertyPersisting &&
                copied.accessPolicyWindow.base_ptr == d && copied.accessPolicyWindow.hitRatio == 1.0f;
    printf("attributes %s\n", same ? "OK" : "differ");
    return same ? 0 : 2;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "printf";
    if (!strcmp(mode, "printf")) return printfOrder();
    if (!strcmp(mode, "fifo")) return fifoLimit();
    if (!strcmp(mode, "assert")) return assertFails();
    if (!strcmp(mode, "cooperative")) return cooperative();
    if (!strcmp(mode, "pool")) return pool();
    if (!strcmp(mode, "zerocopy")) return zeroCopy(argc > 2 ? atoi(argv[2]) : 1);
    if (!strcmp(mode, "unfollowed")) return unfollowedLaunch();
    if (!strcmp(mode, "attributes")) return attributes();
    if (!strcmp(mode, "pinned")) return pinned();
    fprintf(stderr, "unknown mode %s\n", mode);
    return 1;
}
