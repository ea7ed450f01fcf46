import Testing
@testable import TesseraSim

/// One kernel argument as the bytes C would pass.
struct KernelArgument {
    var bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    init<T: BitwiseCopyable>(_ value: T) {
        bytes = withUnsafeBytes(of: value) { Array($0) }
    }
}

/// A context on a fresh simulated GPU, loading modules compiled from the CUDA test corpus.
struct SimHarness {
    let gpu: SimulatedGPU
    let context: SimContext

    init(smVersion: Int = 90) {
        gpu = SimulatedGPU(properties: DeviceProperties(
            totalMemory: 1 << 30, computeCapabilityMajor: smVersion / 10, computeCapabilityMinor: smVersion % 10))
        context = gpu.makeContext()
    }

    /// Loads `source` compiled as `variant`: fatbinaries and PTX both go through `loadModule(image:)`.
    func load(_ source: String, _ variant: CUDACompiler.Variant = .fatbin) throws -> SimModule {
        try context.loadModule(image: CUDACompiler.compile(source, variant))
    }

    func upload<T: BitwiseCopyable>(_ values: [T]) throws -> UInt64 {
        let bytes = values.count * MemoryLayout<T>.stride
        let address = try context.allocate(bytes)
        try values.withUnsafeBytes { try context.copyToDevice(address, from: $0.baseAddress!, count: bytes) }
        try context.synchronize()  // the host array must outlive the queued copy
        return address
    }

    func zeros<T: BitwiseCopyable>(_ type: T.Type, count: Int) throws -> UInt64 {
        try context.allocate(count * MemoryLayout<T>.stride)
    }

    /// Waits for queued work, then copies `count` values back.
    func download<T: BitwiseCopyable>(_ address: UInt64, count: Int, as type: T.Type = T.self) throws -> [T] {
        try context.synchronize()
        var out = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = count
        }
        try out.withUnsafeMutableBytes { try context.copyFromDevice(address, to: $0.baseAddress!, count: $0.count) }
        try context.synchronize()
        return out
    }

    /// Writes `values` to a module variable (`__device__` or `__constant__`).
    func write<T: BitwiseCopyable>(_ values: [T], to variable: ModuleVariable) throws {
        let bytes = values.count * MemoryLayout<T>.stride
        #expect(bytes <= variable.size, "\(variable.name) holds \(variable.size) bytes")
        try values.withUnsafeBytes { try context.copyToDevice(variable.address, from: $0.baseAddress!, count: bytes) }
        try context.synchronize()
    }

    /// Packs `arguments` by the kernel's parameter layout (checking each size) and launches it; does not wait.
    func launch(
        _ kernel: SimKernel, grid: Dim3, block: Dim3, sharedMemoryBytes: Int = 0, _ arguments: KernelArgument...
    ) throws {
        try context.launch(kernel, grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes,
                           parameters: Self.pack(arguments, for: kernel))
    }

    /// Launches and waits for completion, surfacing any fault.
    func run(
        _ kernel: SimKernel, grid: Dim3, block: Dim3, sharedMemoryBytes: Int = 0, _ arguments: KernelArgument...
    ) throws {
        try context.launch(kernel, grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes,
                           parameters: Self.pack(arguments, for: kernel))
        try context.synchronize()
    }

    /// Lays out arguments through `packParameters`, the path the runtime's `void** args` take.
    static func pack(_ arguments: [KernelArgument], for kernel: SimKernel) -> [UInt8] {
        #expect(arguments.count == kernel.parameters.count, "\(kernel.name) takes \(kernel.parameters.count) parameters")
        for (argument, parameter) in zip(arguments, kernel.parameters) {
            #expect(argument.bytes.count == parameter.size, "\(kernel.name): argument of \(argument.bytes.count) bytes for a \(parameter.size)-byte parameter")
        }
        let storage = arguments.map { a in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, a.bytes.count), alignment: 16)
            a.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: a.bytes.count) }
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        var pointers = storage.map { Optional(UnsafeRawPointer($0)) }
        while pointers.count < kernel.parameters.count { pointers.append(nil) }
        return pointers.withUnsafeBufferPointer { kernel.packParameters($0.baseAddress!) }
    }
}

/// Shorthand for a kernel argument.
func arg<T: BitwiseCopyable>(_ value: T) -> KernelArgument { KernelArgument(value) }
