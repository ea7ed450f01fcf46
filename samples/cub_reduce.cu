// CUB (CCCL) device-wide algorithms, as libraries like CuPy and PyTorch use them: each call first asks for its
// temporary storage size, which picks a tuning policy from the kernels' PTX version and occupancy.
// Usage: cub_reduce [elements]
#include <cub/cub.cuh>
#include <vector>
#include "common.h"

template <class Run>
static void withTempStorage(Run run) {
    void *temp = nullptr;
    size_t bytes = 0;
    CHECK(run(temp, bytes));
    CHECK(cudaMalloc(&temp, bytes));
    CHECK(run(temp, bytes));
    CHECK(cudaFree(temp));
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    std::vector<int> h(n);
    long long sum = 0;
    int max = 0;
    for (int i = 0; i < n; i++) {
        h[i] = (i * 7919) % 1000;
        sum += h[i];
        max = h[i] > max ? h[i] : max;
    }
    int *in, *maxOut, *scan;
    long long *sumOut;
    CHECK(cudaMalloc(&in, n * sizeof(int)));
    CHECK(cudaMalloc(&scan, n * sizeof(int)));
    CHECK(cudaMalloc(&maxOut, sizeof(int)));
    CHECK(cudaMalloc(&sumOut, sizeof(long long)));
    CHECK(cudaMemcpy(in, h.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    withTempStorage([&](void *t, size_t &b) { return cub::DeviceReduce::Sum(t, b, in, sumOut, n); });
    withTempStorage([&](void *t, size_t &b) { return cub::DeviceReduce::Max(t, b, in, maxOut, n); });
    withTempStorage([&](void *t, size_t &b) { return cub::DeviceScan::InclusiveSum(t, b, in, scan, n); });
    long long gotSum = 0;
    int gotMax = 0;
    std::vector<int> gotScan(n);
    CHECK(cudaMemcpy(&gotSum, sumOut, sizeof gotSum, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(&gotMax, maxOut, sizeof gotMax, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(gotScan.data(), scan, n * sizeof(int), cudaMemcpyDeviceToHost));
    if (gotSum != sum || gotMax != max) {
        printf("cub_reduce MISMATCH sum=%lld (want %lld) max=%d (want %d)\n", gotSum, sum, gotMax, max);
        return 2;
    }
    long long running = 0;
    for (int i = 0; i < n; i++) {
        running += h[i];
        if (gotScan[i] != (int)running) { printf("cub_reduce scan mismatch at %d: %d (want %lld)\n", i, gotScan[i], running); return 2; }
    }
    printf("cub_reduce OK n=%d sum=%lld max=%d\n", n, sum, max);
    return 0;
}
