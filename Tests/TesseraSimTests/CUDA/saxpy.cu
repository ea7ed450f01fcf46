// y = a*x + y with grid-stride loops, in float and double, through one template.
template <typename T>
__device__ void saxpy_body(int n, T a, const T* __restrict__ x, T* __restrict__ y) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        y[i] = a * x[i] + y[i];
    }
}

extern "C" __global__ void saxpy_f32(int n, float a, const float* x, float* y) { saxpy_body(n, a, x, y); }
extern "C" __global__ void saxpy_f64(int n, double a, const double* x, double* y) { saxpy_body(n, a, x, y); }
