// Double-precision trigonometry. Large arguments take the Payne-Hanek range reduction, which libdevice
// writes with extended-precision integer arithmetic (add.cc, addc, mad.lo.cc, madc.hi).
extern "C" __global__ void trig_f64(const double* x, double* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double b = x[i];
    out[0 * n + i] = sin(b);
    out[1 * n + i] = cos(b);
    out[2 * n + i] = tan(b);
}
