// Vector loads and stores: v4 and v2 of 32-bit words, v2 of 64-bit words, through global and shared memory,
// by every lane or by odd lanes only (a partial warp), and one misaligned vector load.
#include <cstdint>

extern "C" __global__ void vector_copy(const uint4 *in4, uint4 *out4, const double2 *ind, double2 *outd,
                                       const float2 *in2, float2 *out2, int oddOnly) {
    __shared__ uint4 s4[256];
    __shared__ double2 sd[256];
    __shared__ float2 s2[256];
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    bool active = !oddOnly || (t & 1);
    if (active) {
        s4[t] = in4[i];
        sd[t] = ind[i];
        s2[t] = in2[i];
    }
    __syncthreads();
    if (active) {
        // Another active lane's vectors (t ^ 2 keeps odd lanes odd).
        uint4 v = s4[t ^ 2];
        v.x += 1;
        v.w ^= 0xFFFFFFFFu;
        out4[i] = v;
        double2 d = sd[t ^ 2];
        d.y = -d.y;
        outd[i] = d;
        float2 f = s2[t ^ 2];
        f.x *= 2.0f;
        out2[i] = f;
    }
}

extern "C" __global__ void misaligned_vector_load(const uint4 *base, int byteOffset, uint4 *out) {
    const uint4 *p = (const uint4 *)((const char *)base + byteOffset) + threadIdx.x;
    out[threadIdx.x] = *p;
}
