/// Loads a fatbinary container or PTX text (the rest of the body) on one vGPU. Reply: ``LoadModuleReply``.
public struct LoadModule: WireMessage, Hashable {
    public static let opcode = Opcode.loadModule
    public var device: Int
    public init(device: Int) { self.device = device }
    /// Decodes the fixed fields; the image is the rest of the body.
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()) }
}

/// A kernel of a loaded module: how to pack its parameters and what `cudaFuncGetAttributes` reports.
public struct KernelInfo: Sendable, Hashable {
    public struct Parameter: Sendable, Hashable {
        public var offset: Int
        public var size: Int
        public init(offset: Int, size: Int) { self.offset = offset; self.size = size }
    }
    public var name: String
    public var parameters: [Parameter]
    public var staticSharedBytes: Int
    public var localBytesPerThread: Int
    public var constantBytes: Int
    public var registersPerThread: Int
    public var maxThreadsPerBlock: Int
    public var ptxVersion: Int
    public var binaryVersion: Int

    public init(name: String, parameters: [Parameter], staticSharedBytes: Int, localBytesPerThread: Int, constantBytes: Int,
                registersPerThread: Int, maxThreadsPerBlock: Int, ptxVersion: Int, binaryVersion: Int) {
        self.name = name; self.parameters = parameters; self.staticSharedBytes = staticSharedBytes
        self.localBytesPerThread = localBytesPerThread; self.constantBytes = constantBytes
        self.registersPerThread = registersPerThread; self.maxThreadsPerBlock = maxThreadsPerBlock
        self.ptxVersion = ptxVersion; self.binaryVersion = binaryVersion
    }

    /// Bytes of the packed parameter buffer.
    public var parameterBufferSize: Int { parameters.last.map { $0.offset + $0.size } ?? 0 }
}

/// A `__device__`/`__constant__` variable of a loaded module.
public struct VariableInfo: Sendable, Hashable {
    public var name: String
    public var address: UInt64
    public var size: Int
    public init(name: String, address: UInt64, size: Int) { self.name = name; self.address = address; self.size = size }
}

public struct LoadModuleReply: Sendable, Hashable {
    public var module: UInt64
    public var kernels: [KernelInfo]
    public var variables: [VariableInfo]
    public init(module: UInt64, kernels: [KernelInfo], variables: [VariableInfo]) {
        self.module = module; self.kernels = kernels; self.variables = variables
    }

    public func encode(into w: inout WireWriter) {
        w.u64(module)
        w.u32(UInt32(kernels.count))
        for k in kernels {
            w.string(k.name)
            w.u32(UInt32(k.parameters.count))
            for p in k.parameters { w.size(p.offset); w.size(p.size) }
            for v in [k.staticSharedBytes, k.localBytesPerThread, k.constantBytes, k.registersPerThread, k.maxThreadsPerBlock, k.ptxVersion, k.binaryVersion] {
                w.size(v)
            }
        }
        w.u32(UInt32(variables.count))
        for v in variables { w.string(v.name); w.u64(v.address); w.size(v.size) }
    }

    public init(from r: inout WireReader) throws(WireError) {
        module = try r.u64()
        kernels = []
        variables = []
        let nk = Int(try r.u32())
        guard nk <= 1 << 16 else { throw WireError(.malformed, "\(nk) kernels") }
        for _ in 0..<nk {
            let name = try r.string()
            let np = Int(try r.u32())
            guard np <= 4096 else { throw WireError(.malformed, "\(np) parameters") }
            var params: [KernelInfo.Parameter] = []
            for _ in 0..<np { params.append(.init(offset: try r.size(max: 1 << 20), size: try r.size(max: 1 << 20))) }
            var v: [Int] = []
            for _ in 0..<7 { v.append(try r.size(max: 1 << 40)) }
            kernels.append(KernelInfo(name: name, parameters: params, staticSharedBytes: v[0], localBytesPerThread: v[1], constantBytes: v[2],
                                      registersPerThread: v[3], maxThreadsPerBlock: v[4], ptxVersion: v[5], binaryVersion: v[6]))
        }
        let nv = Int(try r.u32())
        guard nv <= 1 << 16 else { throw WireError(.malformed, "\(nv) variables") }
        for _ in 0..<nv { variables.append(VariableInfo(name: try r.string(), address: try r.u64(), size: try r.size())) }
    }
}

/// A kernel launch (pipelined). The packed parameter buffer is the rest of the body.
public struct LaunchKernel: WireMessage, Hashable {
    public static let opcode = Opcode.launchKernel
    public var device: Int
    public var module: UInt64
    public var kernel: Int
    public var grid: (UInt32, UInt32, UInt32)
    public var block: (UInt32, UInt32, UInt32)
    public var sharedMemoryBytes: Int
    public var stream: UInt64
    /// A cooperative launch (`cudaLaunchCooperativeKernel`): every block resident at once, grid-wide sync allowed.
    public var cooperative: Bool

    public init(device: Int, module: UInt64, kernel: Int, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32),
                sharedMemoryBytes: Int, stream: UInt64, cooperative: Bool = false) {
        self.device = device; self.module = module; self.kernel = kernel; self.grid = grid; self.block = block
        self.sharedMemoryBytes = sharedMemoryBytes; self.stream = stream; self.cooperative = cooperative
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.device == b.device && a.module == b.module && a.kernel == b.kernel && a.grid == b.grid && a.block == b.block
            && a.sharedMemoryBytes == b.sharedMemoryBytes && a.stream == b.stream && a.cooperative == b.cooperative
    }
    public func hash(into h: inout Hasher) { h.combine(module); h.combine(kernel) }

    /// Bytes of the fixed fields.
    static let encodedSize = 56

    public func encode(into w: inout WireWriter) {
        // Every kernel launch passes here: the fields go in with one append (the layout ``init(from:)`` reads).
        w.fixed(Self.encodedSize) { p in
            func put32(_ v: UInt32, _ at: Int) { p.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self) }
            func put64(_ v: UInt64, _ at: Int) { p.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self) }
            put32(UInt32(truncatingIfNeeded: device), 0); put64(module, 4); put32(UInt32(truncatingIfNeeded: kernel), 12)
            put32(grid.0, 16); put32(grid.1, 20); put32(grid.2, 24)
            put32(block.0, 28); put32(block.1, 32); put32(block.2, 36)
            put32(UInt32(truncatingIfNeeded: sharedMemoryBytes), 40); put64(stream, 44)
            put32(cooperative ? LaunchKernel.cooperativeFlag : 0, 52)
        }
    }

    /// Bit 0 of the launch flags.
    static let cooperativeFlag: UInt32 = 1

    /// Decodes the fixed fields; the parameter buffer is left in the reader.
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); module = try r.u64(); kernel = Int(try r.u32())
        grid = (try r.u32(), try r.u32(), try r.u32())
        block = (try r.u32(), try r.u32(), try r.u32())
        sharedMemoryBytes = Int(try r.u32()); stream = try r.u64()
        let flags = try r.u32()
        guard flags & ~LaunchKernel.cooperativeFlag == 0 else { throw WireError(.malformed, "unknown launch flags 0x\(String(flags, radix: 16))") }
        cooperative = flags & LaunchKernel.cooperativeFlag != 0
    }
}
