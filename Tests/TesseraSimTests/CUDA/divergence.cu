// Control flow that diverges within a warp and reconverges, and per-thread local arrays (stack).
extern "C" __global__ void diverge(const int* in, int* out, unsigned* masks, int n) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    if (tid >= n) return;
    int v = in[tid];
    int acc = 0;
    // Data-dependent trip counts, nested branches, early continue and break.
    for (int k = 0; k < (v & 15); ++k) {
        if ((k + v) % 3 == 0) continue;
        if (v & 16) {
            acc += k * 2;
        } else if (v & 32) {
            acc -= k;
        } else {
            acc ^= k << 3;
        }
        if (acc > 40) break;
    }
    switch (v % 4) {
        case 0: acc += 1000; break;
        case 1: acc += 2000; break;
        case 2: acc *= 3; break;
        default: acc = -acc; break;
    }
    out[tid] = acc;
    masks[tid] = __activemask();   // after reconvergence: every live lane of the warp
}

// A per-thread array indexed with run-time values lives in local memory.
extern "C" __global__ void local_array(const int* in, int* out, int n) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    if (tid >= n) return;
    int table[24];
    for (int k = 0; k < 24; ++k) table[k] = in[tid] * k + tid;
    int sum = 0;
    int j = in[tid] & 31;
    for (int k = 0; k < 24; ++k) {
        j = (j * 5 + 7) % 24;
        table[j] += table[(j + 11) % 24] & 0xff;
        sum += table[j];
    }
    out[tid] = sum;
}
