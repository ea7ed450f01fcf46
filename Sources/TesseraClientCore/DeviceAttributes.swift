import TesseraWire

/// `cudaDeviceAttr` / `CUdevice_attribute` (one numbering) answered from a vGPU's device model, so that every
/// face reports the same values: the vGPU's memory, its real compute capability, limits the simulator enforces.
package enum DeviceAttributes {
    /// One past the last attribute CUDA 13 defines.
    package static let count: Int32 = 162

    /// The attribute's value, or nil for a number CUDA does not define.
    package static func value(_ attribute: Int32, of d: VirtualDeviceInfo) -> Int? {
        switch attribute {
        case 1: d.maxThreadsPerBlock
        case 2, 3, 4: d.maxBlockDim[Int(attribute) - 2]
        case 5, 6, 7: d.maxGridDim[Int(attribute) - 5]
        case 8: d.sharedMemoryPerBlock
        case 9: d.totalConstantMemory
        case 10: d.warpSize
        case 11: min(d.memoryPitch, Int(Int32.max))
        case 12: d.registersPerBlock
        case 13: d.clockRateKHz
        case 14: d.textureAlignment
        case 15: 1  // gpu overlap
        case 16: d.multiprocessorCount
        case 17, 18: 0  // kernel exec timeout, integrated
        case 19: 1  // can map host memory
        case 20: 0  // compute mode default
        case 21: 131_072  // texture 1D width
        case 22: 131_072  // texture 2D width
        case 23: 65_536  // texture 2D height
        case 24, 25, 26: 16_384  // texture 3D
        case 27: 32_768
        case 28: 32_768
        case 29: 2048
        case 30: 512  // surface alignment
        case 31: 1  // concurrent kernels
        case 32: 0  // ECC
        case 33: d.pciBusID
        case 34, 35, 50: 0  // PCI device, TCC, PCI domain
        case 36: d.memoryClockRateKHz
        case 37: d.memoryBusWidth
        case 38: d.l2CacheSize
        case 39: d.maxThreadsPerMultiprocessor
        case 40: 2  // async engines
        case 41: 1  // unified addressing
        case 42: 32_768
        case 43: 2048
        case 44: 1
        case 45, 46: 32_768
        case 47, 48: 8192
        case 49: 32_768
        case 51: 32  // texture pitch alignment
        case 52, 53: 32_768
        case 54: 2046
        case 55, 56: 32_768
        case 57: 65_536
        case 58: 16_384
        case 59, 60: 16_384
        case 61: 32_768
        case 62: 2048
        case 63: 32_768
        case 64: 32_768
        case 65: 2048
        case 66, 67: 32_768
        case 68: 2046
        case 69: 268_435_456
        case 70: 131_072
        case 71: 65_000
        case 72: 2_097_120
        case 73: 32_768
        case 74: 32_768
        case 75: d.computeCapabilityMajor
        case 76: d.computeCapabilityMinor
        case 77: 32_768
        case 78, 79, 80: 1  // stream priorities, global/local L1
        case 81: d.sharedMemoryPerMultiprocessor
        case 82: d.registersPerMultiprocessor
        case 83, 84, 85, 86, 88, 89: 0  // managed memory, multi-GPU board, native atomics, pageable access
        case 87: 2  // single-to-double performance ratio
        case 90: 1  // compute preemption
        case 91: 0
        case 92, 93, 94: 0  // stream memory operations
        case 95: 1  // cooperative launch (cudaLaunchCooperativeKernel: every block resident at once)
        case 96: 0  // multi-device cooperative launch
        case 97: d.sharedMemoryPerBlockOptin
        case 98: 0
        case 99: 0  // host register
        case 100, 101: 0
        // Virtual memory management: on simulated GPUs (UUIDs starting "TSRA"), whose node executes it.
        case 102: d.uuid.starts(with: [0x54, 0x53, 0x52, 0x41]) ? 1 : 0
        case 103, 104, 105: 0  // IPC handles
        case 106: d.maxBlocksPerMultiprocessor
        case 107: 0
        case 108: d.l2CacheSize * 3 / 4  // persisting L2 lines: a hint the device accepts (the simulator has no cache)
        case 109: 134_213_632  // access policy window
        case 110: 0
        case 111: 1024  // reserved shared memory per block
        case 112, 113, 114: 0
        case 115: 1  // memory pools: stream-ordered allocation from the default pool, within the vGPU's quota
        case 116, 117, 118: 0
        case 119: 0  // pool handle types: none
        case 120: 0  // cluster launch
        case 121, 122, 123, 124, 125: 0
        case 126: 1  // memory sync domains
        case 127, 128, 129: 0
        case 130: 0  // NUMA config: none
        case 131, 134: -1  // NUMA ids
        case 132, 133: 0
        case 135...137: 0
        case 138: 0
        case 139: 0
        case 140: 0
        case 141...161: 0
        default: nil
        }
    }
}
