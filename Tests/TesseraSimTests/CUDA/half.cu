// Half precision (f16, bf16 and their pairs) as CUDA's intrinsics lower them on sm_90: arithmetic, fma,
// min/max, neg/abs, comparisons, conversions in every rounding mode, packing, ex2 and tanh approximations.
// Each thread takes inputs x, y, z (floats exactly representable in both formats or not, chosen by the
// host) and writes NOUT 16-bit results: out[tid * NOUT + k].
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#define NOUT 40

__device__ unsigned short hb(__half h) { return __half_as_ushort(h); }
__device__ unsigned short bb(__nv_bfloat16 h) { return __bfloat16_as_ushort(h); }

extern "C" __global__ void half_ops(const float* in, unsigned short* out, int n) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    float fx = in[3 * t], fy = in[3 * t + 1], fz = in[3 * t + 2];
    unsigned short* o = out + t * NOUT;
    __half x = __float2half_rn(fx), y = __float2half_rn(fy), z = __float2half_rn(fz);
    o[0] = hb(x);
    o[1] = hb(__float2half_rz(fx));
    o[2] = hb(__float2half_rd(fx));
    o[3] = hb(__float2half_ru(fx));
    o[4] = hb(__hadd(x, y));
    o[5] = hb(__hsub(x, y));
    o[6] = hb(__hmul(x, y));
    o[7] = hb(__hfma(x, y, z));
    o[8] = hb(__hneg(x));
    o[9] = hb(__habs(x));
    o[10] = hb(__hmin(x, y));
    o[11] = hb(__hmax(x, y));
    o[12] = __hlt(x, y) | (__heq(x, y) << 1) | (__hge(x, y) << 2) | (__hne(x, y) << 3);
    __half2 p = __floats2half2_rn(fx, fy), q = __floats2half2_rn(fz, fx);
    __half2 r = __hfma2(p, q, p);               // fma.rn.f16x2 (fp16ScalarProduct's instruction)
    o[13] = hb(__low2half(r));
    o[14] = hb(__high2half(r));
    __half2 s = __hadd2(p, q), m = __hmul2(p, q);
    o[15] = hb(__low2half(s)); o[16] = hb(__high2half(s));
    o[17] = hb(__low2half(m)); o[18] = hb(__high2half(m));
    __half2 c = __hlt2(p, q);                   // set.lt.f16x2.f16x2: 1.0 or 0.0 per half
    o[19] = hb(__low2half(c)); o[20] = hb(__high2half(c));
    o[21] = __hblt2(p, q) | (__hbge2(p, q) << 1);  // setp with p|q, then and-ed
    o[22] = (unsigned short)__half2int_rn(x);
    o[23] = (unsigned short)__half2int_rz(x);
    o[24] = hb(__int2half_rn((int)(fz * 100)));
    o[25] = hb(hexp2(__float2half_rn(fx / 8)));
    o[26] = hb(htanh_approx(x));
    __nv_bfloat16 bx = __float2bfloat16_rn(fx), by = __float2bfloat16_rn(fy), bz = __float2bfloat16_rn(fz);
    o[27] = bb(bx);
    o[28] = bb(__float2bfloat16_rz(fx));
    o[29] = bb(__hadd(bx, by));
    o[30] = bb(__hmul(bx, by));
    o[31] = bb(__hfma(bx, by, bz));
    o[32] = bb(__hmax(bx, by));
    o[33] = __hlt(bx, by) | (__heq(bx, by) << 1);
    __nv_bfloat162 bp = __floats2bfloat162_rn(fx, fy), bq = __floats2bfloat162_rn(fz, fx);
    __nv_bfloat162 br = __hfma2(bp, bq, bp);
    o[34] = bb(__low2bfloat16(br)); o[35] = bb(__high2bfloat16(br));
    float back = __half2float(x) + __bfloat162float(bx);   // exact widenings
    o[36] = (unsigned short)(__float_as_uint(back) & 0xFFFF);
    o[37] = (unsigned short)(__float_as_uint(back) >> 16);
    o[38] = hb(__float2half_rn(__bfloat162float(bx)));    // bf16 → f32 → f16
    o[39] = bb(__float2bfloat16_rn(__half2float(x)));
}

// Half-precision atomics (atom.add.noftz on f16, f16x2, bf16 and bf16x2): `threads` threads each add
// 0.25 (and 0.5 to the upper half of the pair) to counters starting at zero.
extern "C" __global__ void half_atomics(__half* h, __half2* h2, __nv_bfloat16* b, __nv_bfloat162* b2) {
    atomicAdd(h, __float2half(0.25f));
    atomicAdd(h + 1, __float2half(-1.0f));   // the neighbouring half of the same 32-bit word
    atomicAdd(h2, __floats2half2_rn(0.25f, 0.5f));
    atomicAdd(b, __float2bfloat16(0.25f));
    atomicAdd(b2, __floats2bfloat162_rn(0.25f, 0.5f));
}
