// CUDA's virtual memory management through the driver API (cuda.h, libcuda.so.1): reserve addresses, create
// physical memory, map it, set access, use it from copies and a kernel, unmap, release, free; the vGPU's quota
// refuses physical memory past it; a kernel touching an unmapped address faults. Run with a 64 MiB vGPU.
// Usage: vmm DIR (DIR holding kernels.ptx)
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) do { CUresult e_ = (x); if (e_ != CUDA_SUCCESS) { const char *n_ = "?"; cuGetErrorName(e_, &n_); \
    fprintf(stderr, "%s:%d %s: %s (%d)\n", __FILE__, __LINE__, #x, n_, (int)e_); exit(1); } } while (0)
#define EXPECT(x, want) do { CUresult e_ = (x); if (e_ != (want)) { \
    fprintf(stderr, "%s:%d %s gave %d, expected %d\n", __FILE__, __LINE__, #x, (int)e_, (int)(want)); exit(1); } } while (0)
#define ASSERT(c) do { if (!(c)) { fprintf(stderr, "%s:%d assertion failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static size_t freeBytes(void) {
    size_t f = 0, t = 0;
    CHECK(cuMemGetInfo(&f, &t));
    return f;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: vmm DIR\n"); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/kernels.ptx", argv[1]);
    CHECK(cuInit(0));
    CUdevice dev;
    CHECK(cuDeviceGet(&dev, 0));
    int supported = 0;
    CHECK(cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
    ASSERT(supported == 1);
    CUcontext ctx;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));

    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = dev;
    size_t g = 0;
    CHECK(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    ASSERT(g > 0);
    // The module first: its __device__ variables count against the quota too.
    CUmodule module;
    CHECK(cuModuleLoad(&module, path));
    CUfunction scale;
    CHECK(cuModuleGetFunction(&scale, module, "scale"));
    size_t quota = 0, free0 = 0;
    CHECK(cuMemGetInfo(&free0, &quota));

    // A reservation holds addresses, no memory.
    CUdeviceptr va = 0;
    CHECK(cuMemAddressReserve(&va, 4 * g, 0, 0, 0));
    ASSERT(va != 0 && va % g == 0);
    ASSERT(freeBytes() == free0);
    EXPECT(cuMemAddressReserve(&va, g + 1, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);  // not a multiple of the granularity

    // Physical memory counts against the quota, exactly.
    CUmemGenericAllocationHandle h;
    CHECK(cuMemCreate(&h, 2 * g, &prop, 0));
    ASSERT(freeBytes() == free0 - 2 * g);
    CHECK(cuMemMap(va, 2 * g, 0, h, 0));
    CUmemAccessDesc access;
    memset(&access, 0, sizeof access);
    access.location = prop.location;
    access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    CHECK(cuMemSetAccess(va, 2 * g, &access, 1));
    unsigned long long flags = 0;
    CHECK(cuMemGetAccess(&flags, &prop.location, va + 100));
    ASSERT(flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    CUmemGenericAllocationHandle retained;
    CHECK(cuMemRetainAllocationHandle(&retained, (void *)(va + g)));
    ASSERT(retained == h);
    CHECK(cuMemRelease(retained));

    // The mapping works like any device memory: copies, and a kernel.
    size_t n = 2 * g / sizeof(float);
    float *host = malloc(2 * g);
    for (size_t i = 0; i < n; i++) host[i] = (float)(i % 1000);
    CHECK(cuMemcpyHtoD(va, host, 2 * g));
    float two = 2;
    int count = (int)n;
    void *params[] = { &va, &two, &count };
    CHECK(cuLaunchKernel(scale, (unsigned)((n + 255) / 256), 1, 1, 256, 1, 1, 0, 0, params, 0));
    CHECK(cuCtxSynchronize());
    memset(host, 0, 2 * g);
    CHECK(cuMemcpyDtoH(host, va, 2 * g));
    for (size_t i = 0; i < n; i += 4099) ASSERT(host[i] == 2.0f * (float)(i % 1000));
    ASSERT(host[n - 1] == 2.0f * (float)((n - 1) % 1000));

    // Past the quota, cuMemCreate is refused.
    CUmemGenericAllocationHandle big;
    size_t over = ((freeBytes() / g) + 1) * g;
    EXPECT(cuMemCreate(&big, over, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    ASSERT(freeBytes() == free0 - 2 * g);

    // A second mapping in the same reservation, released while mapped: its memory stays until it is unmapped.
    CUmemGenericAllocationHandle h2;
    CHECK(cuMemCreate(&h2, g, &prop, 0));
    CHECK(cuMemMap(va + 2 * g, g, 0, h2, 0));
    CHECK(cuMemSetAccess(va + 2 * g, g, &access, 1));
    CHECK(cuMemRelease(h2));
    ASSERT(freeBytes() == free0 - 3 * g);
    EXPECT(cuMemMap(va + 2 * g, g, 0, h, 0), CUDA_ERROR_INVALID_VALUE);  // overlaps a mapping
    CHECK(cuMemUnmap(va + 2 * g, g));
    ASSERT(freeBytes() == free0 - 2 * g);

    // Unmapping keeps the memory while the handle lives; releasing gives it back. A mapped range is not freed.
    EXPECT(cuMemAddressFree(va, 4 * g), CUDA_ERROR_INVALID_VALUE);
    CHECK(cuMemUnmap(va, 2 * g));
    ASSERT(freeBytes() == free0 - 2 * g);
    EXPECT(cuMemcpyHtoD(va, host, 4096), CUDA_ERROR_INVALID_VALUE);  // nothing mapped there now
    CHECK(cuMemRelease(h));
    ASSERT(freeBytes() == free0);
    EXPECT(cuMemRelease(h), CUDA_ERROR_INVALID_VALUE);

    // A second reservation, freed; then a kernel touching the unmapped range faults (the context is lost).
    CUdeviceptr other = 0;
    CHECK(cuMemAddressReserve(&other, g, 0, 0, 0));
    CHECK(cuMemAddressFree(other, g));
    CHECK(cuLaunchKernel(scale, 1, 1, 1, 256, 1, 1, 0, 0, params, 0));
    CUresult fault = cuCtxSynchronize();
    ASSERT(fault == CUDA_ERROR_ILLEGAL_ADDRESS);
    printf("vmm OK granularity=%zu quota=%zu fault=%d\n", g, quota, (int)fault);
    free(host);
    return 0;
}
