// Holds MIB of device memory on every device until killed; with "spin", also a kernel on device 0 that never
// ends. Prints READY and device 0's allocation. Usage: hold MIB [spin]
#include <unistd.h>
#include "common.h"

__global__ void spin(int *flag) { while (*(volatile int *)flag == 0) {} }

int main(int argc, char **argv) {
    size_t bytes = (argc > 1 ? atol(argv[1]) : 32) << 20;
    int count = 1;
    CHECK(cudaGetDeviceCount(&count));
    void *p = 0;
    for (int d = count - 1; d >= 0; d--) {  // device 0 last, so it stays current
        CHECK(cudaSetDevice(d));
        CHECK(cudaMalloc(&p, bytes));
        CHECK(cudaMemset(p, 1, bytes));
        CHECK(cudaMemset(p, 0, 4));
        CHECK(cudaDeviceSynchronize());
    }
    bool spinning = argc > 2 && argv[2][0] == 's';
    if (spinning) spin<<<1, 1>>>((int *)p);  // the flag (first word) is 0 and stays 0
    printf("READY %p\n", p);  // the address lets a test hand another tenant's pointer to a program
    fflush(stdout);
    if (spinning) cudaDeviceSynchronize();
    for (;;) pause();
}
