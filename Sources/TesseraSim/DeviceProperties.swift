/// The description of one simulated GPU: what `cudaGetDeviceProperties` reports and what launches are checked against.
public struct DeviceProperties: Sendable, Hashable {
    public var name: String
    public var totalMemory: Int
    public var multiprocessorCount: Int
    public var computeCapabilityMajor: Int
    public var computeCapabilityMinor: Int
    /// Core clock in kHz.
    public var clockRateKHz: Int
    public var memoryClockRateKHz: Int
    public var memoryBusWidth: Int
    public var l2CacheSize: Int
    public var warpSize: Int
    public var maxThreadsPerBlock: Int
    public var maxBlockDimensions: (x: Int, y: Int, z: Int) { (maxBlockDimX, maxBlockDimY, maxBlockDimZ) }
    public var maxBlockDimX: Int
    public var maxBlockDimY: Int
    public var maxBlockDimZ: Int
    public var maxGridDimX: Int
    public var maxGridDimY: Int
    public var maxGridDimZ: Int
    /// Static shared memory per block (48 KiB on every CUDA GPU).
    public var sharedMemoryPerBlock: Int
    /// Maximum shared memory per block a kernel may opt in to (static + dynamic).
    public var sharedMemoryPerBlockOptin: Int
    public var sharedMemoryPerMultiprocessor: Int
    public var registersPerBlock: Int
    public var registersPerMultiprocessor: Int
    public var maxThreadsPerMultiprocessor: Int
    public var maxBlocksPerMultiprocessor: Int
    public var totalConstantMemory: Int
    public var textureAlignment: Int
    public var memoryPitch: Int
    /// PCI identity reported to programs; the simulator numbers its devices.
    public var pciBusID: Int

    /// A device shaped like an H100-class GPU with `totalMemory` bytes and compute capability 9.0.
    public init(
        name: String = "Tessera Simulated GPU",
        totalMemory: Int = 16 << 30,
        multiprocessorCount: Int = 132,
        computeCapabilityMajor: Int = 9,
        computeCapabilityMinor: Int = 0,
        clockRateKHz: Int = 1_755_000,
        pciBusID: Int = 0
    ) {
        self.name = name
        self.totalMemory = totalMemory
        self.multiprocessorCount = multiprocessorCount
        self.computeCapabilityMajor = computeCapabilityMajor
        self.computeCapabilityMinor = computeCapabilityMinor
        self.clockRateKHz = clockRateKHz
        self.memoryClockRateKHz = 2_619_000
        self.memoryBusWidth = 5120
        self.l2CacheSize = 50 << 20
        self.warpSize = 32
        self.maxThreadsPerBlock = 1024
        self.maxBlockDimX = 1024
        self.maxBlockDimY = 1024
        self.maxBlockDimZ = 64
        self.maxGridDimX = Int(Int32.max)
        self.maxGridDimY = 65535
        self.maxGridDimZ = 65535
        self.sharedMemoryPerBlock = 48 << 10
        self.sharedMemoryPerBlockOptin = 227 << 10
        self.sharedMemoryPerMultiprocessor = 228 << 10
        self.registersPerBlock = 65536
        self.registersPerMultiprocessor = 65536
        self.maxThreadsPerMultiprocessor = 2048
        self.maxBlocksPerMultiprocessor = 32
        self.totalConstantMemory = 64 << 10
        self.textureAlignment = 512
        self.memoryPitch = Int(Int32.max)
        self.pciBusID = pciBusID
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.totalMemory == b.totalMemory && a.multiprocessorCount == b.multiprocessorCount
            && a.computeCapabilityMajor == b.computeCapabilityMajor && a.computeCapabilityMinor == b.computeCapabilityMinor
            && a.clockRateKHz == b.clockRateKHz && a.pciBusID == b.pciBusID
    }
    public func hash(into h: inout Hasher) { h.combine(name); h.combine(totalMemory); h.combine(pciBusID) }

    /// The compute capability as PTX writes it, e.g. 90 for `sm_90`.
    public var smVersion: Int { computeCapabilityMajor * 10 + computeCapabilityMinor }
}

/// A grid or block shape.
public struct Dim3: Sendable, Hashable, CustomStringConvertible {
    public var x: UInt32, y: UInt32, z: UInt32
    public init(_ x: UInt32 = 1, _ y: UInt32 = 1, _ z: UInt32 = 1) { self.x = x; self.y = y; self.z = z }
    public var count: Int { Int(x) * Int(y) * Int(z) }
    public var description: String { "(\(x), \(y), \(z))" }
}
