// Double-precision math library functions and conversions: out[f * n + i] = f(x[i], y[i]).
extern "C" __global__ void math_f64(const double* x, const double* y, double* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double a = x[i], b = y[i];
    double* o = out + i;
    o[0 * n] = sqrt(a);
    o[1 * n] = exp(b);
    o[2 * n] = log(a);
    o[3 * n] = rsqrt(a);
    o[4 * n] = fma(a, b, 1.25);
    o[5 * n] = a / b;
    o[6 * n] = pow(a, 0.75);
    o[7 * n] = floor(b) + ceil(a) * 0.5 + trunc(b) * 0.25;
    o[8 * n] = (double)(float)b + (double)(int)(a * 100.0) + (double)(long long)(b * 1e6);
}
