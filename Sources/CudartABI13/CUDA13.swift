import TesseraClientCore
import TesseraRuntime

// The libcudart.so.13 ABI: CUDA 13's `cudaDeviceProp` (1008 bytes) and version. Everything else is shared.

let layout13 = DevicePropertiesLayout(size: 1008, offsets: [
    .totalGlobalMem: 288, .sharedMemPerBlock: 296, .regsPerBlock: 304, .warpSize: 308, .memPitch: 312,
    .maxThreadsPerBlock: 320, .maxThreadsDim: 324, .maxGridSize: 336, .totalConstMem: 352, .major: 360, .minor: 364,
    .textureAlignment: 368, .texturePitchAlignment: 376, .multiProcessorCount: 384, .canMapHostMemory: 392,
    .surfaceAlignment: 552, .concurrentKernels: 560, .pciBusID: 568, .asyncEngineCount: 584, .unifiedAddressing: 588,
    .memoryBusWidth: 592, .l2CacheSize: 596, .maxThreadsPerMultiProcessor: 604, .streamPrioritiesSupported: 608,
    .globalL1CacheSupported: 612, .localL1CacheSupported: 616, .sharedMemPerMultiprocessor: 624,
    .regsPerMultiprocessor: 632, .computePreemptionSupported: 660, .sharedMemPerBlockOptin: 672,
    .maxBlocksPerMultiProcessor: 688, .reservedSharedMemPerBlock: 696,
    .persistingL2CacheMaxSize: 600, .cooperativeLaunch: 668, .accessPolicyMaxWindowSize: 692, .memoryPoolsSupported: 720,
])

@_cdecl("cudaGetDeviceProperties")
public func cudaGetDeviceProperties(_ properties: UnsafeMutableRawPointer?, _ device: Int32) -> Int32 {
    ClientCore.shared.getDeviceProperties(properties, device, layout: layout13)
}

@_cdecl("cudaRuntimeGetVersion")
public func cudaRuntimeGetVersion(_ version: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let version else { return 1 }
    version.pointee = 13000
    return 0
}
