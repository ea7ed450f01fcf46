// Streams, events and pinned memory: each stream scales its own slice; events order and time the work.
#include "common.h"

__global__ void scale(float *x, float factor, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = x[i] * factor + 1.0f;
}

int main() {
    const int streams = 4, slice = 2048, n = streams * slice;
    float *host, *device;
    CHECK(cudaMallocHost(&host, n * sizeof(float)));
    CHECK(cudaMalloc(&device, n * sizeof(float)));
    for (int i = 0; i < n; i++) host[i] = (float)(i % 100);
    cudaStream_t s[streams];
    cudaEvent_t done[streams], start, stop;
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    CHECK(cudaEventRecord(start, 0));
    for (int k = 0; k < streams; k++) {
        CHECK(cudaStreamCreateWithFlags(&s[k], k % 2 ? cudaStreamNonBlocking : cudaStreamDefault));
        CHECK(cudaEventCreateWithFlags(&done[k], cudaEventDisableTiming));
        float *h = host + k * slice, *d = device + k * slice;
        CHECK(cudaMemcpyAsync(d, h, slice * sizeof(float), cudaMemcpyHostToDevice, s[k]));
        scale<<<slice / 256, 256, 0, s[k]>>>(d, (float)(k + 2), slice);
        CHECK(cudaMemcpyAsync(h, d, slice * sizeof(float), cudaMemcpyDeviceToHost, s[k]));
        CHECK(cudaEventRecord(done[k], s[k]));
    }
    // The default stream waits for every slice before the final event.
    for (int k = 0; k < streams; k++) CHECK(cudaStreamWaitEvent(0, done[k], 0));
    CHECK(cudaEventRecord(stop, 0));
    CHECK(cudaEventSynchronize(stop));
    for (int k = 0; k < streams; k++) {
        if (cudaEventQuery(done[k]) != cudaSuccess) { printf("event %d not complete\n", k); return 2; }
        if (cudaStreamQuery(s[k]) != cudaSuccess) { printf("stream %d busy\n", k); return 3; }
    }
    for (int i = 0; i < n; i++) {
        float want = (float)(i % 100) * (float)(i / slice + 2) + 1.0f;
        if (host[i] != want) { printf("mismatch at %d: %f != %f\n", i, host[i], want); return 4; }
    }
    float ms = -1;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    for (int k = 0; k < streams; k++) { CHECK(cudaStreamDestroy(s[k])); CHECK(cudaEventDestroy(done[k])); }
    CHECK(cudaFreeHost(host));
    CHECK(cudaFree(device));
    printf("streams OK %.3f ms\n", ms);
    return 0;
}
