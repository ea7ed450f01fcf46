// Warp-level primitives: votes, ballots, the active mask and shuffles. Per thread, out[k * n + tid] holds
// the k-th observation.
extern "C" __global__ void warp_ops(const int* in, unsigned* out, int n) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31;
    int v = in[tid];
    unsigned* o = out + tid;
    o[0 * n] = __ballot_sync(0xffffffffu, v & 1);
    o[1 * n] = __any_sync(0xffffffffu, v == 7);
    o[2 * n] = __all_sync(0xffffffffu, v >= 0);
    o[3 * n] = (unsigned)__shfl_up_sync(0xffffffffu, v, 3);
    o[4 * n] = (unsigned)__shfl_xor_sync(0xffffffffu, v, 5);
    o[5 * n] = (unsigned)__shfl_sync(0xffffffffu, v, (lane * 7 + 3) & 31);
    o[6 * n] = (unsigned)__shfl_down_sync(0xffffffffu, v, 2, 8);   // within groups of 8 lanes
    // Only odd lanes take this branch: the active mask and a ballot among them show exactly those lanes.
    unsigned active = 0, oddBallot = 0;
    if (lane & 1) {
        active = __activemask();
        oddBallot = __ballot_sync(0xaaaaaaaau, v > 50);
    }
    o[7 * n] = active;
    o[8 * n] = oddBallot;
    o[9 * n] = __activemask();   // reconverged: the whole warp again
    o[10 * n] = __popc(__ballot_sync(0xffffffffu, 1)) + (__all_sync(0xffffffffu, lane < 32) << 8);
}
