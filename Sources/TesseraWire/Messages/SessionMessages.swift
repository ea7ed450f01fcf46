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
    /// The client can use vGPUs on other nodes (it connects to them itself when ``HelloReply/remote`` names
    /// them). A node never places an older client's vGPUs elsewhere.
    public var acceptsRemoteDevices: Bool
    /// Which device address window the session's allocations come from: a program holding sessions on several
    /// nodes gives each a distinct window, so its device pointers are unique across all of them.
    public var addressWindow: Int
    /// The program's device index of this session's first vGPU; requests name devices by the program's index.
    public var deviceBase: Int
    /// Present when the client attaches to vGPUs another node obtained for it: the session is bound to exactly
    /// the vGPUs of that lease on this node, and the other fields' sizes are ignored.
    public var attach: AttachCredential?
    /// The user token the program presents (`TESSERA_TOKEN`), sent on TCP connections: a node admits a TCP
    /// session only with a valid token or attach credential (unless it allows anonymous sessions). Unix-socket
    /// sessions are known by their kernel identity instead.
    public var token: String?
    /// Milliseconds the program may wait in its group's queue when its vGPUs do not fit now (0: refuse at once).
    public var waitMilliseconds: Int

    public init(clientPID: Int32, virtualGPUs: Int, memoryBytes: Int, computePercent: Int, programName: String, sharesMemory: Bool,
                computeMode: ComputeMode = .share, acceptsRemoteDevices: Bool = false, addressWindow: Int = 0, deviceBase: Int = 0,
                attach: AttachCredential? = nil, token: String? = nil, waitMilliseconds: Int = 0) {
        self.token = token
        self.waitMilliseconds = waitMilliseconds
        self.computeMode = computeMode
        self.acceptsRemoteDevices = acceptsRemoteDevices
        self.addressWindow = addressWindow
        self.deviceBase = deviceBase
        self.attach = attach
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
        // Extension 1, only when something in it differs from what a first-release client means.
        guard acceptsRemoteDevices || addressWindow != 0 || deviceBase != 0 || attach != nil || token != nil
                || waitMilliseconds != 0 else { return }
        // The lowest version that carries what is set, so nodes of earlier releases understand every hello that
        // needs nothing newer.
        let version: UInt16 = waitMilliseconds != 0 ? 3 : token != nil ? 2 : 1
        w.u16(version)
        w.bool(acceptsRemoteDevices)
        w.size(addressWindow)
        w.size(deviceBase)
        w.bool(attach != nil)
        attach?.encode(into: &w)
        // Version 2: the user token ("" in version 3 when there is none). Version 3: the queue wait.
        if version >= 2 { w.string(token ?? "") }
        if version >= 3 { w.size(waitMilliseconds) }
    }

    /// The version of the optional section after the first release's fields: 1 added remote devices and
    /// attaching, 2 the user token, 3 the queue wait.
    static let extensionVersion: UInt16 = 3
    /// The longest token a node reads.
    public static let maxTokenLength = 512

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
        acceptsRemoteDevices = false
        addressWindow = 0
        deviceBase = 0
        attach = nil
        token = nil
        waitMilliseconds = 0
        guard r.remainingCount > 0 else { return }  // a first-release client
        let version = try r.u16()
        guard version >= 1 else { throw WireError(.malformed, "hello extension \(version)") }
        acceptsRemoteDevices = try r.bool()
        addressWindow = try r.size(max: WireProtocol.maxAddressWindow)
        deviceBase = try r.size(max: WireProtocol.maxVirtualGPUs)
        if try r.bool() { attach = try AttachCredential(from: &r) }
        guard version >= 2 else { return }
        let t = try r.string()
        guard t.utf8.count <= Self.maxTokenLength, !(t.isEmpty && version == 2) else {
            throw WireError(.malformed, "a token must be 1…\(Self.maxTokenLength) bytes")
        }
        if !t.isEmpty { token = t }
        if version >= 3 { waitMilliseconds = try r.size(max: 86_400_000) }
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

/// The node's answer to ``Hello``: the session id and the vGPUs granted on this node, in device order, then
/// (for a client that accepts them) the vGPUs granted on other nodes, which the client attaches to itself.
/// The program's devices are this node's first, then each remote group's, in order.
public struct HelloReply: Sendable, Hashable {
    public var sessionID: UInt64
    /// Devices on this node: the program's devices 0…devices.count−1.
    public var devices: [VirtualDeviceInfo]
    /// Devices on other nodes, each group one node's.
    public var remote: [RemoteDeviceGroup]

    public init(sessionID: UInt64, devices: [VirtualDeviceInfo], remote: [RemoteDeviceGroup] = []) {
        self.sessionID = sessionID
        self.devices = devices
        self.remote = remote
    }

    /// Every device of the program: this node's and the remote ones.
    public var deviceCount: Int { devices.count + remote.reduce(0) { $0 + $1.count } }

    /// The version of the reply's optional section (1: remote devices); versioned apart from the hello's.
    static let extensionVersion: UInt16 = 1

    public func encode(into w: inout WireWriter) {
        w.u64(sessionID)
        w.u32(UInt32(devices.count))
        for d in devices { d.encode(into: &w) }
        // Extension 1: only when there are remote devices (a first-release client never asks for them).
        guard !remote.isEmpty else { return }
        w.u16(Self.extensionVersion)
        w.u32(UInt32(remote.count))
        for g in remote { g.encode(into: &w) }
    }

    public init(from r: inout WireReader) throws(WireError) {
        sessionID = try r.u64()
        let n = Int(try r.u32())
        guard n <= WireProtocol.maxVirtualGPUs else { throw WireError(.malformed, "\(n) devices") }
        devices = []
        for _ in 0..<n { devices.append(try VirtualDeviceInfo(from: &r)) }
        remote = []
        guard r.remainingCount > 0 else { return }
        let version = try r.u16()
        guard version >= 1 else { throw WireError(.malformed, "hello reply extension \(version)") }
        let groups = Int(try r.u32())
        guard groups <= WireProtocol.maxVirtualGPUs else { throw WireError(.malformed, "\(groups) remote groups") }
        for _ in 0..<groups { remote.append(try RemoteDeviceGroup(from: &r)) }
        guard deviceCount <= WireProtocol.maxVirtualGPUs else { throw WireError(.malformed, "\(deviceCount) devices") }
    }
}

/// Shares a region of host memory with the node: the frame carries its file descriptor (SCM_RIGHTS) on a unix
/// socket. Pinned host buffers and the pageable-copy staging area are such regions.
public struct RegisterHostMemory: WireMessage, Hashable {
    public static let opcode = Opcode.registerHostMemory
    public var region: UInt64
    public var size: Int
    /// The program's address of the region, where kernels reach it too (mapped host memory under unified
    /// addressing); 0 for a region only copies use. Reply: ``RegisterHostMemoryReply``.
    public var address: UInt64
    public init(region: UInt64, size: Int, address: UInt64 = 0) { self.region = region; self.size = size; self.address = address }
    public func encode(into w: inout WireWriter) { w.u64(region); w.size(size); w.u64(address) }
    public init(from r: inout WireReader) throws(WireError) { region = try r.u64(); size = try r.size(max: 1 << 44); address = try r.u64() }
}

/// Whether a registered region is mapped into the session's devices (kernels may use its address).
public struct RegisterHostMemoryReply: Sendable, Hashable {
    public var mapped: Bool
    public init(mapped: Bool) { self.mapped = mapped }
    public func encode(into w: inout WireWriter) { w.bool(mapped) }
    public init(from r: inout WireReader) throws(WireError) { mapped = try r.bool() }
}

/// Stops sharing a region; the node first waits for queued work that reads or writes it.
public struct UnregisterHostMemory: WireMessage, Hashable {
    public static let opcode = Opcode.unregisterHostMemory
    public var region: UInt64
    public init(region: UInt64) { self.region = region }
    public func encode(into w: inout WireWriter) { w.u64(region) }
    public init(from r: inout WireReader) throws(WireError) { region = try r.u64() }
}
