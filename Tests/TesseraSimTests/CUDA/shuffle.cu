// Warp shuffles, two ways. `shfl_raw` issues shfl.sync in each mode with per-lane b and a uniform c chosen
// by the host, so any clamp value and segment mask can be checked against the PTX ISA's definition; it
// records the value and the in-range predicate. `shfl_widths` uses the CUDA intrinsics for every width.
extern "C" __global__ void shfl_raw(const unsigned* in, const unsigned* bs, const unsigned* cs, unsigned* out, int cases) {
    unsigned lane = threadIdx.x & 31;
    unsigned v = in[threadIdx.x];
    for (int k = 0; k < cases; k++) {
        unsigned b = bs[k * 32 + lane], c = cs[k];
        unsigned r[4], p[4];
        asm volatile("{ .reg .pred q; shfl.sync.up.b32 %0|q, %2, %3, %4, 0xffffffff; selp.u32 %1, 1, 0, q; }" : "=r"(r[0]), "=r"(p[0]) : "r"(v), "r"(b), "r"(c));
        asm volatile("{ .reg .pred q; shfl.sync.down.b32 %0|q, %2, %3, %4, 0xffffffff; selp.u32 %1, 1, 0, q; }" : "=r"(r[1]), "=r"(p[1]) : "r"(v), "r"(b), "r"(c));
        asm volatile("{ .reg .pred q; shfl.sync.bfly.b32 %0|q, %2, %3, %4, 0xffffffff; selp.u32 %1, 1, 0, q; }" : "=r"(r[2]), "=r"(p[2]) : "r"(v), "r"(b), "r"(c));
        asm volatile("{ .reg .pred q; shfl.sync.idx.b32 %0|q, %2, %3, %4, 0xffffffff; selp.u32 %1, 1, 0, q; }" : "=r"(r[3]), "=r"(p[3]) : "r"(v), "r"(b), "r"(c));
        for (int m = 0; m < 4; m++) {
            out[((k * 4 + m) * 32 + lane) * 2] = r[m];
            out[((k * 4 + m) * 32 + lane) * 2 + 1] = p[m];
        }
    }
}

// For each width w in 1, 2, 4, 8, 16, 32 and each delta/lane argument d in 0...40: up, down, xor, idx (with a
// negative and an out-of-segment source lane too). out[(((wi * 41 + d) * 5 + op) * 32) + lane].
extern "C" __global__ void shfl_widths(const int* in, int* out) {
    unsigned lane = threadIdx.x & 31;
    int v = in[lane];
    for (int wi = 0; wi < 6; wi++) {
        int w = 1 << wi;
        for (int d = 0; d <= 40; d++) {
            int* o = out + ((wi * 41 + d) * 5) * 32 + lane;
            o[0] = __shfl_up_sync(0xffffffffu, v, d, w);
            o[32] = __shfl_down_sync(0xffffffffu, v, d, w);
            o[64] = __shfl_xor_sync(0xffffffffu, v, d, w);
            o[96] = __shfl_sync(0xffffffffu, v, d, w);
            o[128] = __shfl_sync(0xffffffffu, v, (int)lane - d, w);
        }
    }
}

// A shuffle scan as the shfl_scan sample writes it: the width is a runtime value, the block's warp sums are
// scanned by a second shuffle over a partial mask. out[tid] = inclusive prefix sum within the block.
extern "C" __global__ void shfl_block_scan(const int* in, int* out, int width) {
    extern __shared__ int sums[];
    int id = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = id % warpSize;
    int warp = threadIdx.x / warpSize;
    int value = in[id];
    for (int i = 1; i <= width; i *= 2) {
        int n = __shfl_up_sync(0xffffffffu, value, i, width);
        if (lane >= i) value += n;
    }
    if (threadIdx.x % warpSize == warpSize - 1) sums[warp] = value;
    __syncthreads();
    if (warp == 0 && lane < (int)(blockDim.x / warpSize)) {
        int warpSum = sums[lane];
        int mask = (1 << (blockDim.x / warpSize)) - 1;
        for (int i = 1; i <= (int)(blockDim.x / warpSize); i *= 2) {
            int n = __shfl_up_sync(mask, warpSum, i, blockDim.x / warpSize);
            if (lane >= i) warpSum += n;
        }
        sums[lane] = warpSum;
    }
    __syncthreads();
    if (warp > 0) value += sums[warp - 1];
    out[id] = value;
}
