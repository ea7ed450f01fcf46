// Holds MIB of device memory filled with a known pattern and checks it later: the paging tests' program.
// Usage: paged MIB [wait]. Prints "READY <address>" once filled. Without "wait" it checks at once and exits;
// with "wait" it waits for SIGUSR1 (check, print, exit) or SIGUSR2 (exit at once, touching nothing).
// The check copies every byte back and runs a kernel over the first MiB at the same pointer; it prints
// "INTACT <address>" or "CORRUPT <details>" (exit status 1). The allocation is the program's only one (the
// kernel's counter lives in its last 256 bytes), so a quota of exactly MIB fits it.
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

__host__ __device__ static uint64_t pattern(uint64_t k) { return (k + 1) * 0x9E3779B97F4A7C15ULL ^ (k >> 7); }

__global__ void check(const uint64_t *p, size_t words, unsigned *bad) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < words && p[k] != pattern(k)) atomicAdd(bad, 1u);
}

static int verify(uint64_t *device, size_t bytes) {
    size_t words = bytes / 8;
    uint64_t *host = (uint64_t *)malloc(bytes);
    CHECK(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
    size_t wrong = 0;
    for (size_t k = 0; k < words; k++) wrong += host[k] != pattern(k);
    free(host);
    unsigned *bad = (unsigned *)((char *)device + bytes), kernelBad = 0;
    CHECK(cudaMemset(bad, 0, sizeof(unsigned)));
    size_t checked = words < (1 << 17) ? words : (1 << 17);
    check<<<(unsigned)((checked + 255) / 256), 256>>>(device, checked, bad);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpy(&kernelBad, bad, sizeof(unsigned), cudaMemcpyDeviceToHost));
    if (wrong || kernelBad) {
        printf("CORRUPT %zu words differ on the host, %u in the kernel\n", wrong, kernelBad);
        return 1;
    }
    printf("INTACT %p\n", (void *)device);
    return 0;
}

int main(int argc, char **argv) {
    size_t bytes = (size_t)(argc > 1 ? atol(argv[1]) : 16) << 20;
    bool wait = argc > 2 && strcmp(argv[2], "wait") == 0;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    sigprocmask(SIG_BLOCK, &signals, 0);  // taken by sigwait below, never delivered asynchronously

    uint64_t *device = 0;
    CHECK(cudaMalloc(&device, bytes));
    size_t data = bytes - 256;  // the rest holds the check kernel's counter
    uint64_t *host = (uint64_t *)malloc(data);
    for (size_t k = 0; k < data / 8; k++) host[k] = pattern(k);
    CHECK(cudaMemcpy(device, host, data, cudaMemcpyHostToDevice));
    free(host);
    CHECK(cudaDeviceSynchronize());
    printf("READY %p\n", (void *)device);
    fflush(stdout);
    if (wait) {
        int signal = 0;
        sigwait(&signals, &signal);
        if (signal == SIGUSR2) {
            printf("EXITING\n");
            return 0;
        }
    }
    int status = verify(device, data);
    fflush(stdout);
    return status;
}
