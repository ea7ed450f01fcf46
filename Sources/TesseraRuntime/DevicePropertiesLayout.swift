import TesseraWire
import TesseraClientCore

/// Where each field of `struct cudaDeviceProp` lives in one CUDA major version's layout. The two ABI layers
/// (libcudart.so.12, libcudart.so.13) each supply theirs; fields absent from a version have no offset.
public struct DevicePropertiesLayout: Sendable {
    public enum Field: Sendable, Hashable {
        // size_t fields
        case totalGlobalMem, sharedMemPerBlock, memPitch, totalConstMem, textureAlignment, texturePitchAlignment
        case surfaceAlignment, sharedMemPerMultiprocessor, sharedMemPerBlockOptin, reservedSharedMemPerBlock
        // int fields
        case regsPerBlock, warpSize, maxThreadsPerBlock, clockRate, major, minor, deviceOverlap, multiProcessorCount
        case canMapHostMemory, concurrentKernels, pciBusID, asyncEngineCount, unifiedAddressing, memoryClockRate
        case memoryBusWidth, l2CacheSize, maxThreadsPerMultiProcessor, streamPrioritiesSupported
        case globalL1CacheSupported, localL1CacheSupported, regsPerMultiprocessor, computePreemptionSupported
        case maxBlocksPerMultiProcessor, singleToDoublePrecisionPerfRatio
        case persistingL2CacheMaxSize, cooperativeLaunch, accessPolicyMaxWindowSize, memoryPoolsSupported
        // int[3]
        case maxThreadsDim, maxGridSize

        var isSize: Bool {
            switch self {
            case .totalGlobalMem, .sharedMemPerBlock, .memPitch, .totalConstMem, .textureAlignment, .texturePitchAlignment,
                 .surfaceAlignment, .sharedMemPerMultiprocessor, .sharedMemPerBlockOptin, .reservedSharedMemPerBlock: true
            default: false
            }
        }
    }

    public var size: Int
    public var offsets: [Field: Int]

    /// `name` (256 bytes) at 0 and `uuid` (16 bytes) at 256 are the same in every layout.
    public init(size: Int, offsets: [Field: Int]) {
        self.size = size
        self.offsets = offsets
    }

    func write(_ d: VirtualDeviceInfo, to p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        for (i, b) in d.name.utf8.prefix(255).enumerated() { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
        for (i, b) in d.uuid.prefix(16).enumerated() { p.storeBytes(of: b, toByteOffset: 256 + i, as: UInt8.self) }
        for (field, offset) in offsets {
            switch field {
            case .maxThreadsDim, .maxGridSize:
                let v = field == .maxThreadsDim ? d.maxBlockDim : d.maxGridDim
                for i in 0..<3 { p.storeBytes(of: Int32(truncatingIfNeeded: v[i]), toByteOffset: offset + 4 * i, as: Int32.self) }
            default:
                let v = value(field, d)
                if field.isSize {
                    p.storeBytes(of: v, toByteOffset: offset, as: Int.self)
                } else {
                    p.storeBytes(of: Int32(truncatingIfNeeded: v), toByteOffset: offset, as: Int32.self)
                }
            }
        }
    }

    private func value(_ f: Field, _ d: VirtualDeviceInfo) -> Int {
        switch f {
        case .totalGlobalMem: d.totalMemory
        case .sharedMemPerBlock: d.sharedMemoryPerBlock
        case .memPitch: d.memoryPitch
        case .totalConstMem: d.totalConstantMemory
        case .textureAlignment: d.textureAlignment
        case .texturePitchAlignment: 32
        case .surfaceAlignment: 512
        case .sharedMemPerMultiprocessor: d.sharedMemoryPerMultiprocessor
        case .sharedMemPerBlockOptin: d.sharedMemoryPerBlockOptin
        case .reservedSharedMemPerBlock: 1024
        case .regsPerBlock: d.registersPerBlock
        case .warpSize: d.warpSize
        case .maxThreadsPerBlock: d.maxThreadsPerBlock
        case .clockRate: d.clockRateKHz
        case .major: d.computeCapabilityMajor
        case .minor: d.computeCapabilityMinor
        case .deviceOverlap, .canMapHostMemory, .concurrentKernels, .unifiedAddressing, .streamPrioritiesSupported,
             .globalL1CacheSupported, .localL1CacheSupported, .computePreemptionSupported: 1
        case .multiProcessorCount: d.multiprocessorCount
        case .pciBusID: d.pciBusID
        case .asyncEngineCount: 2
        case .memoryClockRate: d.memoryClockRateKHz
        case .memoryBusWidth: d.memoryBusWidth
        case .l2CacheSize: d.l2CacheSize
        case .maxThreadsPerMultiProcessor: d.maxThreadsPerMultiprocessor
        case .regsPerMultiprocessor: d.registersPerMultiprocessor
        case .maxBlocksPerMultiProcessor: d.maxBlocksPerMultiprocessor
        case .singleToDoublePrecisionPerfRatio: 2
        // The same values the device attributes report (108, 95, 109, 115).
        case .persistingL2CacheMaxSize: DeviceAttributes.value(108, of: d) ?? 0
        case .cooperativeLaunch: DeviceAttributes.value(95, of: d) ?? 0
        case .accessPolicyMaxWindowSize: DeviceAttributes.value(109, of: d) ?? 0
        case .memoryPoolsSupported: DeviceAttributes.value(115, of: d) ?? 0
        case .maxThreadsDim, .maxGridSize: 0
        }
    }
}

extension Runtime {
    /// `cudaGetDeviceProperties` for the caller's struct layout.
    public func getDeviceProperties(_ properties: UnsafeMutableRawPointer?, _ device: Int32, layout: DevicePropertiesLayout) -> Int32 {
        guard let properties else { return record(CUDAError.invalidValue) }
        return record(withSession { _ in
            guard checkDevice(Int(device)) == 0 else { return CUDAError.invalidDevice }
            layout.write(devices[Int(device)], to: properties)
            return 0
        })
    }
}
