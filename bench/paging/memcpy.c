/* Baseline for the paging benchmark: memcpy of MIB into freshly allocated memory (as a page-out into host
 * memory does), best of three. Prints "memcpy_gib_s X". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    size_t bytes = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
    char *source = malloc(bytes);
    memset(source, 1, bytes);
    double best = 1e9;
    for (int round = 0; round < 3; round++) {
        double start = now_s();
        char *copy = malloc(bytes);
        memcpy(copy, source, bytes);
        double elapsed = now_s() - start;
        if (copy[bytes - 1] != 1) return 1;
        free(copy);
        if (elapsed < best) best = elapsed;
    }
    printf("memcpy_gib_s %.2f\n", bytes / best / (1 << 30));
    return 0;
}
