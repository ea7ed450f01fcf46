// Data-path benchmark, run under `tessera run` by bench/datapath/run.sh. Prints "name value unit" lines.
// Usage: datapath sync|small|launch|copy N
#include <chrono>
#include <cstring>
#include "../../samples/common.h"

__global__ void empty() {}

static double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Synchronous call: cudaStreamQuery on an idle stream is one round trip to the node.
static void sync(int n) {
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    for (int i = 0; i < 1000; i++) CHECK(cudaStreamQuery(s));
    double t = seconds();
    for (int i = 0; i < n; i++) CHECK(cudaStreamQuery(s));
    printf("sync_call_us %.3f us\n", (seconds() - t) / n * 1e6);
}

// Small synchronous operations, each one round trip to the node: 4-byte cudaMemcpy device->host and
// host->device (pageable memory, so each completes before returning), and a 4-byte cudaMemset followed by
// cudaStreamSynchronize (the memset is pipelined and travels with the synchronize).
static void small(int n) {
    int *d, h = 0;
    CHECK(cudaMalloc(&d, sizeof h));
    CHECK(cudaMemset(d, 0, sizeof h));
    // Warm up for a while: the program's start (module registration, the node's first work) must be over.
    double warm = seconds();
    while (seconds() - warm < 0.5) CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    double t = seconds();
    for (int i = 0; i < n; i++) CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    printf("d2h4_us %.3f us\n", (seconds() - t) / n * 1e6);
    t = seconds();
    for (int i = 0; i < n; i++) { h = i; CHECK(cudaMemcpy(d, &h, sizeof h, cudaMemcpyHostToDevice)); }
    printf("h2d4_us %.3f us\n", (seconds() - t) / n * 1e6);
    CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    if (h != n - 1) { printf("small copy check failed: %d\n", h); exit(2); }
    t = seconds();
    for (int i = 0; i < n; i++) {
        CHECK(cudaMemset(d, i & 0xff, sizeof h));
        CHECK(cudaStreamSynchronize(0));
    }
    printf("memset4_us %.3f us\n", (seconds() - t) / n * 1e6);
    CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    int b = (n - 1) & 0xff;
    if (h != (b | b << 8 | b << 16 | b << 24)) { printf("memset check failed: %x\n", h); exit(2); }
    CHECK(cudaFree(d));
}

// Asynchronous launches: issued without waiting for the node.
static void launch(int n) {
    for (int i = 0; i < 1000; i++) empty<<<1, 1>>>();
    CHECK(cudaDeviceSynchronize());
    double t = seconds();
    for (int i = 0; i < n; i++) empty<<<1, 1>>>();
    double issued = seconds() - t;
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    double total = seconds() - t;
    printf("launches_per_s %.0f /s\n", n / issued);
    printf("launches_completed_per_s %.0f /s\n", n / total);
}

// 64 MiB copies between pinned host memory and the device, against a host memcpy of the same size.
static void copy(int reps) {
    const size_t bytes = 64 << 20;
    char *a, *b, *d;
    CHECK(cudaMallocHost(&a, bytes));
    CHECK(cudaMallocHost(&b, bytes));
    CHECK(cudaMalloc(&d, bytes));
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    CHECK(cudaMemcpy(d, a, bytes, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(b, d, bytes, cudaMemcpyDeviceToHost));
    memcpy(b, a, bytes);
    double t = seconds();
    for (int i = 0; i < reps; i++) memcpy(b, a, bytes);
    double host = bytes * reps / (seconds() - t) / 1e9;
    t = seconds();
    for (int i = 0; i < reps; i++) CHECK(cudaMemcpy(d, a, bytes, cudaMemcpyHostToDevice));
    double h2d = bytes * reps / (seconds() - t) / 1e9;
    t = seconds();
    for (int i = 0; i < reps; i++) CHECK(cudaMemcpy(b, d, bytes, cudaMemcpyDeviceToHost));
    double d2h = bytes * reps / (seconds() - t) / 1e9;
    if (b[12345] != 1) { printf("copy check failed\n"); exit(2); }
    printf("memcpy_GBps %.2f GB/s\n", host);
    printf("pinned_h2d_GBps %.2f GB/s\n", h2d);
    printf("pinned_d2h_GBps %.2f GB/s\n", d2h);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "sync";
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    if (!strcmp(mode, "sync")) sync(n);
    else if (!strcmp(mode, "small")) small(n);
    else if (!strcmp(mode, "launch")) launch(n);
    else copy(n);
    return 0;
}
