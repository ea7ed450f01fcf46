// Kernels for the stream-order tests: one that takes a while before it stores, one that reads-modifies-writes.
extern "C" __global__ void slow_store(int* p, int value, int spin) {
    int acc = 0;
    for (int i = 0; i < spin; i++) acc = acc * 3 + 1;
    // acc is never -1 for the spins used; the branch keeps the loop from being optimised away.
    *p = acc == -1 ? 0 : value;
}

extern "C" __global__ void times_ten_plus(int* p, int value) { *p = *p * 10 + value; }
