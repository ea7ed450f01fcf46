// A program written against the CUDA driver API (cuda.h, libcuda.so.1), as frameworks are: modules from
// PTX, launches with kernelParams, packed `extra` buffers and cuLaunchKernelEx, JIT linking, streams,
// events, host functions, memsets, 2D copies, pointer attributes, cuGetProcAddress, and bad input that must
// fail cleanly. Usage: driver_api DIR [NEIGHBOUR] (DIR holding kernels.ptx, more.ptx, kernels.cubin, sm_only.fatbin;
// NEIGHBOUR: another program's device address, in hex)
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) do { CUresult e_ = (x); if (e_ != CUDA_SUCCESS) { const char *n_ = "?"; cuGetErrorName(e_, &n_); \
    fprintf(stderr, "%s:%d %s: %s (%d)\n", __FILE__, __LINE__, #x, n_, (int)e_); exit(1); } } while (0)
#define EXPECT(x, want) do { CUresult e_ = (x); if (e_ != (want)) { \
    fprintf(stderr, "%s:%d %s gave %d, expected %d\n", __FILE__, __LINE__, #x, (int)e_, (int)(want)); exit(1); } } while (0)
#define ASSERT(c) do { if (!(c)) { fprintf(stderr, "%s:%d assertion failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static char *readFile(const char *dir, const char *name, size_t *size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = calloc(1, n + 1);
    if (fread(p, 1, n, f) != (size_t)n) exit(1);
    fclose(f);
    if (size) *size = n;
    return p;
}

static int hostRuns;
static void hostFunction(void *data) { hostRuns += *(int *)data; }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: driver_api DIR\n"); return 2; }
    const char *dir = argv[1];
    int version = 0;
    CHECK(cuDriverGetVersion(&version));
    CHECK(cuInit(0));
    int count = 0;
    CHECK(cuDeviceGetCount(&count));
    CUdevice dev;
    CHECK(cuDeviceGet(&dev, 0));
    char name[256];
    CHECK(cuDeviceGetName(name, sizeof name, dev));
    size_t total = 0;
    CHECK(cuDeviceTotalMem(&total, dev));
    int major = 0, minor = 0;
    CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    CUcontext ctx;
    CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cuCtxSetCurrent(ctx));
    size_t freeMem = 0, totalMem = 0;
    CHECK(cuMemGetInfo(&freeMem, &totalMem));
    ASSERT(totalMem == total);

    // A module from PTX text; parameter layouts come from the image.
    char *ptx = readFile(dir, "kernels.ptx", NULL);
    CUmodule module;
    CHECK(cuModuleLoadData(&module, ptx));
    CUfunction scale, weigh, countKernel;
    CHECK(cuModuleGetFunction(&scale, module, "scale"));
    CHECK(cuModuleGetFunction(&weigh, module, "weigh"));
    CHECK(cuModuleGetFunction(&countKernel, module, "count"));
    const int n = 1000;
    float host[1000];
    for (int i = 0; i < n; i++) host[i] = (float)i;
    CUdeviceptr x;
    CHECK(cuMemAlloc(&x, n * sizeof(float)));
    CHECK(cuMemcpyHtoD(x, host, n * sizeof(float)));
    float a = 2.0f;
    int nn = n;
    void *params[] = {&x, &a, &nn};
    CHECK(cuLaunchKernel(scale, (n + 127) / 128, 1, 1, 128, 1, 1, 0, 0, params, NULL));
    // The same kernel with a packed buffer laid out as cuFuncGetParamInfo says.
    size_t offsets[3], sizes[3];
    for (int i = 0; i < 3; i++) CHECK(cuFuncGetParamInfo(scale, i, &offsets[i], &sizes[i]));
    ASSERT(sizes[0] == 8 && sizes[1] == 4 && sizes[2] == 4);
    unsigned char packed[16] = {0};
    memcpy(packed + offsets[0], &x, 8);
    memcpy(packed + offsets[1], &a, 4);
    memcpy(packed + offsets[2], &nn, 4);
    size_t packedSize = offsets[2] + 4;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &packedSize, CU_LAUNCH_PARAM_END};
    CHECK(cuLaunchKernel(scale, (n + 127) / 128, 1, 1, 128, 1, 1, 0, 0, NULL, extra));
    // And through cuLaunchKernelEx.
    CUlaunchConfig config = {0};
    config.gridDimX = (n + 127) / 128; config.gridDimY = 1; config.gridDimZ = 1;
    config.blockDimX = 128; config.blockDimY = 1; config.blockDimZ = 1;
    CHECK(cuLaunchKernelEx(&config, scale, params, NULL));
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(host, x, n * sizeof(float)));
    for (int i = 0; i < n; i++) ASSERT(host[i] == 8.0f * i);

    // A struct by value and a char: layouts no guess gets right.
    struct { double weight; int offset; char tag; } pair = {0.5, 100, 3};
    char c = 7;
    void *weighParams[] = {&x, &pair, &c, &nn};
    CHECK(cuLaunchKernel(weigh, (n + 127) / 128, 1, 1, 128, 1, 1, 0, 0, weighParams, NULL));
    CHECK(cuMemcpyDtoH(host, x, n * sizeof(float)));
    for (int i = 0; i < n; i++) ASSERT(host[i] == (float)(0.5 * i) + 100 + 3 + 7);

    // Module globals.
    CUdeviceptr counter;
    size_t counterSize = 0;
    CHECK(cuModuleGetGlobal(&counter, &counterSize, module, "counter"));
    ASSERT(counterSize == 4);
    void *countParams[] = {&nn};
    CHECK(cuLaunchKernel(countKernel, 8, 1, 1, 256, 1, 1, 0, 0, countParams, NULL));
    int counted = 0;
    CHECK(cuMemcpyDtoH(&counted, counter, 4));
    ASSERT(counted == n);

    // JIT linking of two independent PTX modules.
    char *morePTX = readFile(dir, "more.ptx", NULL);
    CUlinkState link;
    CHECK(cuLinkCreate(0, NULL, NULL, &link));
    CHECK(cuLinkAddData(link, CU_JIT_INPUT_PTX, ptx, strlen(ptx) + 1, "kernels.ptx", 0, NULL, NULL));
    CHECK(cuLinkAddData(link, CU_JIT_INPUT_PTX, morePTX, strlen(morePTX) + 1, "more.ptx", 0, NULL, NULL));
    void *linked;
    size_t linkedSize;
    CHECK(cuLinkComplete(link, &linked, &linkedSize));
    CUmodule linkedModule;
    CHECK(cuModuleLoadData(&linkedModule, linked));
    CHECK(cuLinkDestroy(link));
    CUfunction fill;
    CHECK(cuModuleGetFunction(&fill, linkedModule, "fill"));
    CUfunction scale2;
    CHECK(cuModuleGetFunction(&scale2, linkedModule, "scale"));
    CUdeviceptr ints;
    CHECK(cuMemAlloc(&ints, n * sizeof(int)));
    int value = 42;
    void *fillParams[] = {&ints, &value, &nn};
    CHECK(cuLaunchKernel(fill, (n + 255) / 256, 1, 1, 256, 1, 1, 0, 0, fillParams, NULL));
    int readBack[1000];
    CHECK(cuMemcpyDtoH(readBack, ints, sizeof readBack));
    for (int i = 0; i < n; i++) ASSERT(readBack[i] == 42);

    // Streams, events, host functions.
    CUstream stream;
    CHECK(cuStreamCreateWithPriority(&stream, CU_STREAM_NON_BLOCKING, -1));
    int priority = 0;
    CHECK(cuStreamGetPriority(stream, &priority));
    ASSERT(priority == -1);
    CUevent start, stop;
    CHECK(cuEventCreate(&start, 0));
    CHECK(cuEventCreate(&stop, 0));
    float *pinned;
    CHECK(cuMemHostAlloc((void **)&pinned, n * sizeof(float), 0));
    for (int i = 0; i < n; i++) pinned[i] = 1.0f;
    CHECK(cuEventRecord(start, stream));
    CHECK(cuMemcpyHtoDAsync(x, pinned, n * sizeof(float), stream));
    CHECK(cuLaunchKernel(scale, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream, params, NULL));
    CHECK(cuMemcpyDtoHAsync(pinned, x, n * sizeof(float), stream));
    int increment = 5;
    CHECK(cuLaunchHostFunc(stream, hostFunction, &increment));
    CHECK(cuEventRecord(stop, stream));
    CHECK(cuEventSynchronize(stop));
    float ms = -1;
    CHECK(cuEventElapsedTime(&ms, start, stop));
    ASSERT(ms >= 0);
    CHECK(cuStreamSynchronize(stream));
    ASSERT(hostRuns == 5);
    for (int i = 0; i < n; i++) ASSERT(pinned[i] == 2.0f);
    CUstreamCaptureStatus capturing = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    CHECK(cuStreamIsCapturing(stream, &capturing));
    ASSERT(capturing == CU_STREAM_CAPTURE_STATUS_NONE);

    // Memsets of every width, including 32-bit patterns whose bytes differ.
    CHECK(cuMemsetD32(ints, 0x3f800000u, n));
    float ones[1000];
    CHECK(cuMemcpyDtoH(ones, ints, sizeof ones));
    for (int i = 0; i < n; i++) ASSERT(ones[i] == 1.0f);
    CHECK(cuMemsetD8(ints, 0, n * sizeof(int)));
    CHECK(cuMemsetD16(ints, 0x0102, 4));
    unsigned char bytes[8];
    CHECK(cuMemcpyDtoH(bytes, ints, 8));
    ASSERT(bytes[0] == 2 && bytes[1] == 1 && bytes[6] == 2 && bytes[7] == 1);

    // A 2D copy into pitched memory and back.
    CUdeviceptr pitched;
    size_t pitch;
    CHECK(cuMemAllocPitch(&pitched, &pitch, 10 * sizeof(float), 4, 4));
    ASSERT(pitch >= 40);
    float grid[40], back[40];
    for (int i = 0; i < 40; i++) grid[i] = (float)i;
    CUDA_MEMCPY2D copy = {0};
    copy.srcMemoryType = CU_MEMORYTYPE_HOST; copy.srcHost = grid; copy.srcPitch = 40;
    copy.dstMemoryType = CU_MEMORYTYPE_DEVICE; copy.dstDevice = pitched; copy.dstPitch = pitch;
    copy.WidthInBytes = 40; copy.Height = 4;
    CHECK(cuMemcpy2D(&copy));
    CUDA_MEMCPY2D copyBack = {0};
    copyBack.srcMemoryType = CU_MEMORYTYPE_DEVICE; copyBack.srcDevice = pitched; copyBack.srcPitch = pitch;
    copyBack.dstMemoryType = CU_MEMORYTYPE_HOST; copyBack.dstHost = back; copyBack.dstPitch = 40;
    copyBack.WidthInBytes = 40; copyBack.Height = 4;
    CHECK(cuMemcpy2D(&copyBack));
    ASSERT(memcmp(grid, back, sizeof grid) == 0);

    // Pointer attributes.
    unsigned int memoryType = 0;
    CHECK(cuPointerGetAttribute(&memoryType, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, x));
    ASSERT(memoryType == CU_MEMORYTYPE_DEVICE);
    int ordinal = -1;
    CHECK(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, x));
    ASSERT(ordinal == 0);

    // cuGetProcAddress: the newest form at or before the version asked for; per-thread forms for flag 2.
    void *fn = NULL;
    CUdriverProcAddressQueryResult status;
    CHECK(cuGetProcAddress("cuCtxGetDevice", &fn, 2000, 0, &status));
    ASSERT(fn == dlsym(RTLD_DEFAULT, "cuCtxGetDevice") && status == CU_GET_PROC_ADDRESS_SUCCESS);
    CHECK(cuGetProcAddress("cuCtxGetDevice", &fn, 13000, 0, &status));
    ASSERT(fn == dlsym(RTLD_DEFAULT, "cuCtxGetDevice_v2"));
    CHECK(cuGetProcAddress("cuMemcpyHtoD", &fn, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &status));
    ASSERT(fn == dlsym(RTLD_DEFAULT, "cuMemcpyHtoD_v2_ptds"));
    CHECK(cuGetProcAddress("cuMemAlloc", &fn, 12000, 0, &status));
    ASSERT(fn == dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"));
    EXPECT(cuGetProcAddress("cuNoSuchFunction", &fn, 13000, 0, &status), CUDA_ERROR_NOT_FOUND);
    ASSERT(fn == NULL && status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    const void *table = NULL;
    CUuuid nvrtc = {{(char)0xda, (char)0x91, 0x51, (char)0xd3, 0x3a, (char)0xe6, (char)0xcc, 0x41, (char)0xa5, (char)0xc0,
                     0x4f, 0x26, (char)0xd5, 0x33, (char)0xe3, 0x28}};
    EXPECT(cuGetExportTable(&table, &nvrtc), CUDA_ERROR_INVALID_VALUE);
    CUgraph graph;
    EXPECT(cuGraphCreate(&graph, 0), CUDA_ERROR_NOT_SUPPORTED);

    // Bad input: each fails with its error, and the context carries on.
    CUmodule bad;
    EXPECT(cuModuleLoadData(&bad, "this is not a module"), CUDA_ERROR_INVALID_IMAGE);
    // A fatbinary whose one entry header is garbage.
    unsigned char garbage[64] = {0x50, 0xed, 0x55, 0xba, 1, 0, 16, 0, 48, 0, 0, 0, 0, 0, 0, 0};
    memset(garbage + 16, 0xff, 48);
    EXPECT(cuModuleLoadData(&bad, garbage), CUDA_ERROR_INVALID_IMAGE);
    char *cubin = readFile(dir, "kernels.cubin", NULL);
    EXPECT(cuModuleLoadData(&bad, cubin), CUDA_ERROR_NO_BINARY_FOR_GPU);
    char *smOnly = readFile(dir, "sm_only.fatbin", NULL);
    EXPECT(cuModuleLoadData(&bad, smOnly), CUDA_ERROR_NO_BINARY_FOR_GPU);
    CUfunction missing;
    EXPECT(cuModuleGetFunction(&missing, module, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    EXPECT(cuLaunchKernel((CUfunction)(uintptr_t)0x1234, 1, 1, 1, 1, 1, 1, 0, 0, params, NULL), CUDA_ERROR_INVALID_HANDLE);
    EXPECT(cuModuleGetFunction(&missing, (CUmodule)(uintptr_t)0x5678, "scale"), CUDA_ERROR_INVALID_HANDLE);
    size_t shortSize = 12;
    void *shortExtra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &shortSize, CU_LAUNCH_PARAM_END};
    EXPECT(cuLaunchKernel(scale, 1, 1, 1, 32, 1, 1, 0, 0, NULL, shortExtra), CUDA_ERROR_INVALID_VALUE);
    EXPECT(cuLaunchKernel(scale, 1, 1, 1, 4096, 1, 1, 0, 0, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT(cuStreamSynchronize((CUstream)(uintptr_t)0x9999), CUDA_ERROR_INVALID_HANDLE);
    if (argc > 2) {
        // Another tenant's allocation: neither readable, writable nor freeable from here.
        CUdeviceptr neighbour = (CUdeviceptr)strtoull(argv[2], NULL, 16);
        EXPECT(cuMemcpyDtoH(host, neighbour, 16), CUDA_ERROR_INVALID_VALUE);
        EXPECT(cuMemcpyHtoD(neighbour, host, 16), CUDA_ERROR_INVALID_VALUE);
        EXPECT(cuMemFree(neighbour), CUDA_ERROR_INVALID_VALUE);
        printf("neighbour refused\n");
    }
    CHECK(cuCtxSynchronize());
    CHECK(cuMemcpyDtoH(host, x, 4));

    CHECK(cuMemFreeHost(pinned));
    CHECK(cuStreamDestroy(stream));
    CHECK(cuEventDestroy(start));
    CHECK(cuEventDestroy(stop));
    CHECK(cuMemFree(x));
    CHECK(cuMemFree(ints));
    CHECK(cuMemFree(pitched));
    CHECK(cuModuleUnload(module));
    CHECK(cuModuleUnload(linkedModule));
    CHECK(cuDevicePrimaryCtxRelease(dev));
    printf("driver_api OK devices=%d name=%s cc=%d.%d total=%zu driver=%d\n", count, name, major, minor, total, version);
    return 0;
}
