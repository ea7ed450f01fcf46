// __constant__ and __device__ variables, cudaMemcpyToSymbol/FromSymbol, cudaFuncGetAttributes, occupancy.
#include "common.h"

__constant__ float coefficients[4];
__device__ int hits;

__global__ void polynomial(const float *x, float *y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        y[i] = coefficients[0] + v * (coefficients[1] + v * (coefficients[2] + v * coefficients[3]));
        atomicAdd(&hits, 1);
    }
}

int main() {
    const int n = 1000;
    float hc[4] = {1.0f, 2.0f, 0.5f, 0.25f};
    CHECK(cudaMemcpyToSymbol(coefficients, hc, sizeof hc));
    int zero = 0;
    CHECK(cudaMemcpyToSymbol(hits, &zero, sizeof zero));
    float hx[n], hy[n];
    for (int i = 0; i < n; i++) hx[i] = (i % 17) * 0.125f;
    float *dx, *dy;
    CHECK(cudaMalloc(&dx, sizeof hx));
    CHECK(cudaMalloc(&dy, sizeof hy));
    CHECK(cudaMemcpy(dx, hx, sizeof hx, cudaMemcpyHostToDevice));
    polynomial<<<(n + 127) / 128, 128>>>(dx, dy, n);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpy(hy, dy, sizeof hy, cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) {
        float v = hx[i], want = hc[0] + v * (hc[1] + v * (hc[2] + v * hc[3]));
        if (hy[i] != want) { printf("mismatch at %d: %f != %f\n", i, hy[i], want); return 2; }
    }
    int count = 0;
    CHECK(cudaMemcpyFromSymbol(&count, hits, sizeof count));
    if (count != n) { printf("hits=%d, expected %d\n", count, n); return 3; }
    float back[4];
    CHECK(cudaMemcpyFromSymbol(back, coefficients, sizeof back));
    if (back[3] != 0.25f) { printf("constant read-back failed\n"); return 4; }
    cudaFuncAttributes attr;
    CHECK(cudaFuncGetAttributes(&attr, polynomial));
    int blocks = 0;
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, polynomial, 128, 0));
    if (attr.maxThreadsPerBlock < 128 || blocks < 1) { printf("bad attributes %d %d\n", attr.maxThreadsPerBlock, blocks); return 5; }
    int *hitsAddress = nullptr;
    CHECK(cudaGetSymbolAddress((void **)&hitsAddress, hits));
    CHECK(cudaMemset(hitsAddress, 0, sizeof(int)));
    CHECK(cudaMemcpyFromSymbol(&count, hits, sizeof count));
    if (count != 0) { printf("memset through symbol address failed\n"); return 6; }
    printf("symbols OK maxThreads=%d occupancy=%d\n", attr.maxThreadsPerBlock, blocks);
    return 0;
}
