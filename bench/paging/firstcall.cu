// Paging benchmark program: holds MIB of device memory, then times its next call after a pause (SIGUSR1):
// from launching a kernel to that kernel's completion, which on a paged session includes the page-in.
// Usage: firstcall MIB. Prints READY, then "first_kernel_ms X".
#include <signal.h>
#include <time.h>
#include "../../samples/common.h"

__global__ void touch(int *p) { p[threadIdx.x] += 1; }

static double now_ms() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    size_t bytes = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigprocmask(SIG_BLOCK, &signals, 0);
    int *p = 0;
    CHECK(cudaMalloc(&p, bytes));
    CHECK(cudaMemset(p, 1, bytes));
    touch<<<1, 32>>>(p);  // the module is loaded and the kernel warm before the pause
    CHECK(cudaDeviceSynchronize());
    printf("READY\n");
    fflush(stdout);
    int signal = 0;
    sigwait(&signals, &signal);
    double start = now_ms();
    touch<<<1, 32>>>(p);
    CHECK(cudaDeviceSynchronize());
    printf("first_kernel_ms %.3f\n", now_ms() - start);
    return 0;
}
