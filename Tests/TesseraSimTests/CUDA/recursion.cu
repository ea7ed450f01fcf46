// Recursive device functions need a real call stack (ABI calls with per-thread frames).
__device__ __noinline__ unsigned long long fib(int n) {
    return n < 2 ? (unsigned long long)n : fib(n - 1) + fib(n - 2);
}

// Mutual recursion through two functions, with a local array in each frame.
__device__ __noinline__ int odd_sum(int n, int depth);
__device__ __noinline__ int even_sum(int n, int depth) {
    int frame[4] = {n, n * 2, n * 3, depth};
    return n <= 0 ? depth : frame[n & 3] + odd_sum(n - 1, depth + 1);
}
__device__ __noinline__ int odd_sum(int n, int depth) {
    int frame[4] = {depth, n, n + 1, n - 1};
    return n <= 0 ? -depth : frame[n & 3] - even_sum(n - 1, depth + 1);
}

extern "C" __global__ void recursion(unsigned long long* fibs, int* sums, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    fibs[i] = fib(i % 20);
    sums[i] = even_sum(i % 13, 0);
}
