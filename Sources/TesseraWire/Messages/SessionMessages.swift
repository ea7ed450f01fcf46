/// First frame of a session: who the client is and which vGPUs it asks for.
public struct Hello: WireMessage, Hashable {
    public static let opcode = Opcode.hello
    /// Process id as the client reports it (informational; on a unix socket the node asks the kernel).
    public var clientPID: Int32
    public var virtualGPUs: Int
    /// Memory of each vGPU in bytes (a multiple of 1 MiB).
    public var memoryBytes: Int
    /// Compute share of each vGPU in percent (1…100).
    public var computePercent: Int
    /// The program's name, for the node's logs and status.
    public var programName: String
    /// The client can share memory with the node (same machine, unix socket): bulk data moves through shared
    /// mappings instead of the socket.
    public var sharesMemory: Bool
    /// How the compute share applies.
    public var computeMode: ComputeMode

    public init(clientPID: Int32, virtualGPUs: Int, memoryBytes: Int, computePercent: Int, programName: String, sharesMemory: Bool,
                computeMode: ComputeMode = .share) {
        self.computeMode = computeMode
        self.clientPID = clientPID
        self.virtualGPUs = virtualGPUs
        self.memoryBytes = memoryBytes
        self.computePercent = computePercent
        self.programName = programName
        self.sharesMemory = sharesMemory
    }

    public func encode(into w: inout WireWriter) {
        w.u32(WireProtocol.helloMagic)
        w.i32(clientPID)
        w.size(virtualGPUs)
        w.size(memoryBytes)
        w.size(computePercent)
        w.string(programName)
        w.bool(sharesMemory)
        w.u8(computeMode.rawValue)
    }

    public init(from r: inout WireReader) throws(WireError) {
        guard try r.u32() == WireProtocol.helloMagic else { throw WireError(.unsupportedVersion, "not a Tessera client") }
        clientPID = try r.i32()
        virtualGPUs = try r.size(max: WireProtocol.maxVirtualGPUs)
        memoryBytes = try r.size(max: 1 << 50)
        computePercent = try r.size(max: 100)
        programName = try r.string()
        sharesMemory = try r.bool()
        let raw = try r.u8()
        guard let mode = ComputeMode(rawValue: raw) else { throw WireError(.malformed, "compute mode \(raw)") }
        computeMode = mode
    }
}

/// What a vGPU looks like to the program: the physical model's properties with the slice's memory.
public struct VirtualDeviceInfo: Sendable, Hashable {
    public var name: String
    public var uuid: [UInt8]
    /// The vGPU's memory (its quota), reported as the device's total memory.
    public var totalMemory: Int
    public var computePercent: Int
    /// Index of the physical GPU on the node.
    public var physicalIndex: Int
    public var multiprocessorCount: Int
    public var computeCapabilityMajor: Int
    public var computeCapabilityMinor: Int
    public var clockRateKHz: Int
    public var memoryClockRateKHz: Int
    public var memoryBusWidth: Int
    public var l2CacheSize: Int
    public var warpSize: Int
    public var maxThreadsPerBlock: Int
    public var maxBlockDim: [Int]
    public var maxGridDim: [Int]
    public var sharedMemoryPerBlock: Int
    public var sharedMemoryPerBlockOptin: Int
    public var sharedMemoryPerMultiprocessor: Int
    public var registersPerBlock: Int
    public var registersPerMultiprocessor: Int
    public var maxThreadsPerMultiprocessor: Int
    public var maxBlocksPerMultiprocessor: Int
    public var totalConstantMemory: Int
    public var textureAlignment: Int
    public var memoryPitch: Int
    public var pciBusID: Int

    public init(
        name: String, uuid: [UInt8], totalMemory: Int, computePercent: Int, physicalIndex: Int,
        multiprocessorCount: Int, computeCapabilityMajor: Int, computeCapabilityMinor: Int,
        clockRateKHz: Int, memoryClockRateKHz: Int, memoryBusWidth: Int, l2CacheSize: Int, warpSize: Int,
        maxThreadsPerBlock: Int, maxBlockDim: [Int], maxGridDim: [Int], sharedMemoryPerBlock: Int,
        sharedMemoryPerBlockOptin: Int, sharedMemoryPerMultiprocessor: Int, registersPerBlock: Int,
        registersPerMultiprocessor: Int, maxThreadsPerMultiprocessor: Int, maxBlocksPerMultiprocessor: Int,
        totalConstantMemory: Int, textureAlignment: Int, memoryPitch: Int, pciBusID: Int
    ) {
        self.name = name; self.uuid = uuid; self.totalMemory = totalMemory; self.computePercent = computePercent
        self.physicalIndex = physicalIndex; self.multiprocessorCount = multiprocessorCount
        self.computeCapabilityMajor = computeCapabilityMajor; self.computeCapabilityMinor = computeCapabilityMinor
        self.clockRateKHz = clockRateKHz; self.memoryClockRateKHz = memoryClockRateKHz
        self.memoryBusWidth = memoryBusWidth; self.l2CacheSize = l2CacheSize; self.warpSize = warpSize
        self.maxThreadsPerBlock = maxThreadsPerBlock; self.maxBlockDim = maxBlockDim; self.maxGridDim = maxGridDim
        self.sharedMemoryPerBlock = sharedMemoryPerBlock; self.sharedMemoryPerBlockOptin = sharedMemoryPerBlockOptin
        self.sharedMemoryPerMultiprocessor = sharedMemoryPerMultiprocessor; self.registersPerBlock = registersPerBlock
        self.registersPerMultiprocessor = registersPerMultiprocessor
        self.maxThreadsPerMultiprocessor = maxThreadsPerMultiprocessor
        self.maxBlocksPerMultiprocessor = maxBlocksPerMultiprocessor; self.totalConstantMemory = totalConstantMemory
        self.textureAlignment = textureAlignment; self.memoryPitch = memoryPitch; self.pciBusID = pciBusID
    }

    private var numericFields: [Int] {
        [totalMemory, computePercent, physicalIndex, multiprocessorCount, computeCapabilityMajor,
         computeCapabilityMinor, clockRateKHz, memoryClockRateKHz, memoryBusWidth, l2CacheSize, warpSize,
         maxThreadsPerBlock, maxBlockDim[0], maxBlockDim[1], maxBlockDim[2], maxGridDim[0], maxGridDim[1],
         maxGridDim[2], sharedMemoryPerBlock, sharedMemoryPerBlockOptin, sharedMemoryPerMultiprocessor,
         registersPerBlock, registersPerMultiprocessor, maxThreadsPerMultiprocessor, maxBlocksPerMultiprocessor,
         totalConstantMemory, textureAlignment, memoryPitch, pciBusID]
    }
    private static let numericFieldCount = 29

    public func encode(into w: inout WireWriter) {
        w.string(name)
        w.blob(uuid)
        for v in numericFields { w.size(v) }
    }

    public init(from r: inout WireReader) throws(WireError) {
        name = try r.string()
        uuid = try r.blob(max: 16)
        var v: [Int] = []
        v.reserveCapacity(Self.numericFieldCount)
        for _ in 0..<Self.numericFieldCount { v.append(try r.size(max: 1 << 52)) }
        totalMemory = v[0]; computePercent = v[1]; physicalIndex = v[2]; multiprocessorCount = v[3]
        computeCapabilityMajor = v[4]; computeCapabilityMinor = v[5]; clockRateKHz = v[6]; memoryClockRateKHz = v[7]
        memoryBusWidth = v[8]; l2CacheSize = v[9]; warpSize = v[10]; maxThreadsPerBlock = v[11]
        maxBlockDim = [v[12], v[13], v[14]]; maxGridDim = [v[15], v[16], v[17]]
        sharedMemoryPerBlock = v[18]; sharedMemoryPerBlockOptin = v[19]; sharedMemoryPerMultiprocessor = v[20]
        registersPerBlock = v[21]; registersPerMultiprocessor = v[22]; maxThreadsPerMultiprocessor = v[23]
        maxBlocksPerMultiprocessor = v[24]; totalConstantMemory = v[25]; textureAlignment = v[26]
        memoryPitch = v[27]; pciBusID = v[28]
    }
}

/// The node's answer to ``Hello``: the session id and the granted vGPUs, in device order.
public struct HelloReply: Sendable, Hashable {
    public var sessionID: UInt64
    public var devices: [VirtualDeviceInfo]

    public init(sessionID: UInt64, devices: [VirtualDeviceInfo]) {
        self.sessionID = sessionID
        self.devices = devices
    }

    public func encode(into w: inout WireWriter) {
        w.u64(sessionID)
        w.u32(UInt32(devices.count))
        for d in devices { d.encode(into: &w) }
    }

    public init(from r: inout WireReader) throws(WireError) {
        sessionID = try r.u64()
        let n = Int(try r.u32())
        guard n <= WireProtocol.maxVirtualGPUs else { throw WireError(.malformed, "\(n) devices") }
        devices = []
        for _ in 0..<n { devices.append(try VirtualDeviceInfo(from: &r)) }
    }
}

/// Shares a region of host memory with the node: the frame carries its file descriptor (SCM_RIGHTS) on a unix
/// socket. Pinned host buffers and the pageable-copy staging area are such regions.
public struct RegisterHostMemory: WireMessage, Hashable {
    public static let opcode = Opcode.registerHostMemory
    public var region: UInt64
    public var size: Int
    public init(region: UInt64, size: Int) { self.region = region; self.size = size }
    public func encode(into w: inout WireWriter) { w.u64(region); w.size(size) }
    public init(from r: inout WireReader) throws(WireError) { region = try r.u64(); size = try r.size(max: 1 << 44) }
}

/// Stops sharing a region; the node first waits for queued work that reads or writes it.
public struct UnregisterHostMemory: WireMessage, Hashable {
    public static let opcode = Opcode.unregisterHostMemory
    public var region: UInt64
    public init(region: UInt64) { self.region = region }
    public func encode(into w: inout WireWriter) { w.u64(region) }
    public init(from r: inout WireReader) throws(WireError) { region = try r.u64() }
}
