// Multi-word integer arithmetic through explicit carry chains, as bignum code and libdevice's
// Payne-Hanek reduction (double sin/cos/tan) emit: add.cc/addc, sub.cc/subc, mad.lo.cc/madc.hi.
extern "C" __global__ void carry_chains(const unsigned* a, const unsigned* b, unsigned* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned a0 = a[2 * i], a1 = a[2 * i + 1], b0 = b[2 * i], b1 = b[2 * i + 1];
    unsigned zero = threadIdx.x >> 10;   // a register holding 0
    unsigned s0, s1, s2, d0, d1, m0, m1;
    asm("add.cc.u32 %0, %3, %5;\n\taddc.cc.u32 %1, %4, %6;\n\taddc.u32 %2, %7, %7;"
        : "=r"(s0), "=r"(s1), "=r"(s2) : "r"(a0), "r"(a1), "r"(b0), "r"(b1), "r"(zero));
    asm("sub.cc.u32 %0, %2, %4;\n\tsubc.u32 %1, %3, %5;" : "=r"(d0), "=r"(d1) : "r"(a0), "r"(a1), "r"(b0), "r"(b1));
    asm("mad.lo.cc.u32 %0, %2, %3, %4;\n\tmadc.hi.u32 %1, %2, %3, %5;"
        : "=r"(m0), "=r"(m1) : "r"(a0), "r"(b0), "r"(a1), "r"(b1));
    unsigned* o = out + 7 * i;
    o[0] = s0; o[1] = s1; o[2] = s2; o[3] = d0; o[4] = d1; o[5] = m0; o[6] = m1;
}
