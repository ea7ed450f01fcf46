// Shared by the samples: fail loudly on any CUDA error.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    fprintf(stderr, "%s:%d %s: %s (%d)\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_), (int)e_); exit(1); } } while (0)
