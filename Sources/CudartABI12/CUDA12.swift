import TesseraClientCore
import TesseraRuntime

// The libcudart.so.12 ABI: CUDA 12's `cudaDeviceProp` (1032 bytes; the header maps cudaGetDeviceProperties
// to cudaGetDeviceProperties_v2, both exported) and version. Everything else is shared.

let layout12 = DevicePropertiesLayout(size: 1032, offsets: [
    .totalGlobalMem: 288, .sharedMemPerBlock: 296, .regsPerBlock: 304, .warpSize: 308, .memPitch: 312,
    .maxThreadsPerBlock: 320, .maxThreadsDim: 324, .maxGridSize: 336, .clockRate: 348, .totalConstMem: 352,
    .major: 360, .minor: 364, .textureAlignment: 368, .texturePitchAlignment: 376, .deviceOverlap: 384,
    .multiProcessorCount: 388, .canMapHostMemory: 400, .surfaceAlignment: 568, .concurrentKernels: 576,
    .pciBusID: 584, .asyncEngineCount: 600, .unifiedAddressing: 604, .memoryClockRate: 608, .memoryBusWidth: 612,
    .l2CacheSize: 616, .maxThreadsPerMultiProcessor: 624, .streamPrioritiesSupported: 628,
    .globalL1CacheSupported: 632, .localL1CacheSupported: 636, .sharedMemPerMultiprocessor: 640,
    .regsPerMultiprocessor: 648, .singleToDoublePrecisionPerfRatio: 668, .computePreemptionSupported: 680,
    .sharedMemPerBlockOptin: 696, .maxBlocksPerMultiProcessor: 712, .reservedSharedMemPerBlock: 720,
    .persistingL2CacheMaxSize: 620, .cooperativeLaunch: 688, .accessPolicyMaxWindowSize: 716, .memoryPoolsSupported: 744,
])

@_cdecl("cudaGetDeviceProperties")
public func cudaGetDeviceProperties(_ properties: UnsafeMutableRawPointer?, _ device: Int32) -> Int32 {
    ClientCore.shared.getDeviceProperties(properties, device, layout: layout12)
}

@_cdecl("cudaGetDeviceProperties_v2")
public func cudaGetDeviceProperties_v2(_ properties: UnsafeMutableRawPointer?, _ device: Int32) -> Int32 {
    ClientCore.shared.getDeviceProperties(properties, device, layout: layout12)
}

@_cdecl("cudaRuntimeGetVersion")
public func cudaRuntimeGetVersion(_ version: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let version else { return 1 }
    version.pointee = 12090
    return 0
}
