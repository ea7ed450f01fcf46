#ifndef C_CUDA_ABI_H
#define C_CUDA_ABI_H
#include <stddef.h>
#include <stdint.h>

/// CUDA's `dim3`, passed by value in the C ABI (so Swift must see it as a C struct).
typedef struct tessera_dim3 { unsigned int x, y, z; } tessera_dim3;

/// Implemented in Swift: logs once that `name` is not supported and returns cudaErrorNotSupported.
int tessera_unsupported(const char *name);

#endif
