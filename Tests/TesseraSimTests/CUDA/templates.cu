// Templated kernels (mangled names) and device functions kept out of line with __noinline__.
template <typename T, int Factor>
__global__ void scale(T* data, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) data[i] = data[i] * T(Factor);
}
template __global__ void scale<float, 3>(float*, int);
template __global__ void scale<int, -2>(int*, int);
template __global__ void scale<double, 5>(double*, int);

__device__ __noinline__ unsigned gcd(unsigned a, unsigned b) {
    while (b != 0) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

struct Pair { int a; float b; };

__device__ __noinline__ Pair combine(Pair x, Pair y, int k) {
    Pair r;
    r.a = x.a * k + y.a;
    r.b = x.b * (float)k - y.b;
    return r;
}

extern "C" __global__ void call_noinline(const unsigned* a, const unsigned* b, unsigned* g,
                                         int* pa, float* pb, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    g[i] = gcd(a[i], b[i]);
    Pair x = { (int)a[i], (float)b[i] * 0.5f };
    Pair y = { i, (float)i };
    Pair r = combine(x, y, i % 7);
    pa[i] = r.a;
    pb[i] = r.b;
}
