// Integer bit intrinsics; out[f * n + i] = f(a[i], b[i]).
extern "C" __global__ void bits32(const unsigned* a, const unsigned* b, unsigned* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned x = a[i], y = b[i];
    unsigned* o = out + i;
    unsigned pos = y & 31, len = 1 + (y >> 5) % (32 - pos);
    unsigned mask = len == 32 ? 0xffffffffu : ((1u << len) - 1u);
    o[0 * n] = __popc(x);
    o[1 * n] = __clz(x);
    o[2 * n] = __brev(x);
    o[3 * n] = __byte_perm(x, y, y & 0x7777);
    o[4 * n] = __funnelshift_l(x, y, y);
    o[5 * n] = __funnelshift_r(x, y, y);
    o[6 * n] = __funnelshift_lc(x, y, y);
    o[7 * n] = __funnelshift_rc(x, y, y);
    o[8 * n] = __ffs((int)x);
    o[9 * n] = (x >> pos) & mask;                                   // bfe (unsigned)
    o[10 * n] = (unsigned)(((int)(x << (32 - pos - len))) >> (32 - len));  // bfe (signed)
    o[11 * n] = (x & ~(mask << pos)) | ((y & mask) << pos);         // bfi
    o[12 * n] = __umulhi(x, y);
    o[13 * n] = (unsigned)__mulhi((int)x, (int)y);
    o[14 * n] = __usad(x & 0xffff, y & 0xffff, 7u);
    o[15 * n] = (unsigned)__mul24((int)(x & 0x3fffff), (int)(y & 0x7fffff));   // bit 23 clear: signed and unsigned agree
    o[16 * n] = (x << (y & 31)) ^ (x >> (y & 31)) ^ (unsigned)((int)x >> (y & 31));
    o[17 * n] = __popcll(((unsigned long long)x << 32) | y);
    o[18 * n] = __clzll((unsigned long long)x << (y & 31));
    o[19 * n] = __ffsll((long long)(((unsigned long long)x << 32) | (y & 0xfff000u)));
    unsigned long long r = __brevll(((unsigned long long)x << 32) | y);
    o[20 * n] = (unsigned)(r >> 32) ^ (unsigned)r;
    o[21 * n] = x / (y | 1u) + x % (y | 1u);
    o[22 * n] = (unsigned)((int)x / ((int)y | 1) + (int)x % ((int)y | 1));
}
