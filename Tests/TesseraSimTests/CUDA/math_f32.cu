// Single-precision math library functions and intrinsics: out[f * n + i] = f(x[i], y[i]).
extern "C" __global__ void math_f32(const float* x, const float* y, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float a = x[i], b = y[i];
    float* o = out + i;
    o[0 * n] = sqrtf(a);
    o[1 * n] = expf(b);
    o[2 * n] = logf(a);
    o[3 * n] = sinf(b);
    o[4 * n] = cosf(b);
    o[5 * n] = rsqrtf(a);
    o[6 * n] = fmaf(a, b, 1.25f);
    o[7 * n] = __fdividef(b, a);
    o[8 * n] = a / b;
    o[9 * n] = tanf(b);
    o[10 * n] = exp2f(b);
    o[11 * n] = log2f(a);
    o[12 * n] = powf(a, 0.75f);
    o[13 * n] = atan2f(b, a);
    o[14 * n] = __expf(b);
    o[15 * n] = __sinf(b);
    o[16 * n] = fminf(a, b) + fmaxf(a, b) * 2.0f;
    o[17 * n] = floorf(b) + ceilf(a) * 0.5f + truncf(b) * 0.25f + rintf(a) * 0.125f;
    o[18 * n] = fabsf(b) + copysignf(a, b);
    o[19 * n] = __saturatef(b);
}
