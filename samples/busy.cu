// Keeps its vGPU saturated, as a training loop does, for SECONDS: kernels of ITERS loop iterations each,
// launched in batches with two batches always queued. Prints READY when the first batch is queued, a line
// "AT <wall-clock ns> <kernels completed>" at most every 50 ms (so that concurrent programs' shares can be taken
// over the window in which all of them ran, whatever their start-up skew), and KERNELS n at the end.
// Usage: busy SECONDS ITERS
#include <chrono>
#include "common.h"

__global__ void busy(float *out, int iters) {
    float x = 1.0f;
    for (int i = 0; i < iters; i++) x = x * 0.9999f + 0.001f;
    if (threadIdx.x == 0) *out = x;
}

static long long wallNanoseconds() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    int iters = argc > 2 ? atoi(argv[2]) : 2000;
    float *out;
    CHECK(cudaMalloc(&out, sizeof(float)));
    cudaEvent_t events[4];
    for (auto &e : events) CHECK(cudaEventCreate(&e));
    auto start = std::chrono::steady_clock::now();
    long launched = 0;
    long long lastReport = 0;
    for (int batch = 0;; batch++) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed >= seconds) break;
        for (int i = 0; i < 16; i++) busy<<<1, 32>>>(out, iters);
        launched += 16;
        CHECK(cudaEventRecord(events[batch % 4]));
        if (batch == 0) { printf("READY\n"); fflush(stdout); }
        if (batch >= 2) {
            CHECK(cudaEventSynchronize(events[(batch - 2) % 4]));
            long long now = wallNanoseconds();
            if (now - lastReport >= 50000000LL) {
                printf("AT %lld %ld\n", now, (long)(batch - 1) * 16);
                lastReport = now;
            }
        }
    }
    CHECK(cudaDeviceSynchronize());
    printf("AT %lld %ld\n", wallNanoseconds(), launched);
    printf("KERNELS %ld\n", launched);
    return 0;
}
