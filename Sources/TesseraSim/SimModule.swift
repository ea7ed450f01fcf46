/// Where one kernel parameter lives in the parameter buffer, from the PTX `.entry` list.
public struct KernelParameter: Sendable, Hashable {
    public var offset: Int
    public var size: Int
    public var alignment: Int
    public init(offset: Int, size: Int, alignment: Int) {
        self.offset = offset
        self.size = size
        self.alignment = alignment
    }
}

/// Static facts about a kernel, as `cudaFuncGetAttributes` reports them.
public struct KernelAttributes: Sendable, Hashable {
    /// Bytes of statically declared shared memory.
    public var staticSharedBytes: Int
    /// Bytes of local memory (stack) per thread.
    public var localBytesPerThread: Int
    /// Bytes of `__constant__` memory the module declares.
    public var constantBytes: Int
    /// Registers per thread, estimated from the PTX register declarations (capped at 255).
    public var registersPerThread: Int
    /// Largest block the kernel accepts (`.maxntid`/`.reqntid` or the device limit).
    public var maxThreadsPerBlock: Int
    /// The virtual architecture the PTX was written for (`.target`, e.g. 75 for compute_75), as CUDA's
    /// `CU_FUNC_ATTRIBUTE_PTX_VERSION` reports it: CUB picks its tuning policy by matching it against the
    /// architectures it was compiled for, and fails with `cudaErrorInvalidDeviceFunction` on the PTX ISA
    /// version (e.g. 95), which matches none.
    public var ptxVersion: Int
    /// Target SM the PTX was written for × 1 (e.g. 75).
    public var binaryVersion: Int
}

/// A kernel (`.entry`) of a loaded module.
public final class SimKernel: Sendable {
    /// The kernel's (mangled) name.
    public let name: String
    /// Each parameter's offset, size and alignment in the parameter buffer.
    public let parameters: [KernelParameter]
    /// Size of the parameter buffer: the end of the last parameter.
    public let parameterBufferSize: Int
    public let attributes: KernelAttributes
    let program: Program

    init(name: String, parameters: [KernelParameter], attributes: KernelAttributes, program: Program) {
        self.name = name
        self.parameters = parameters
        self.parameterBufferSize = parameters.last.map { $0.offset + $0.size } ?? 0
        self.attributes = attributes
        self.program = program
    }

    /// Packs CUDA-style `void** args` (one pointer per parameter) into the parameter buffer.
    public func packParameters(_ args: UnsafePointer<UnsafeRawPointer?>) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: parameterBufferSize)
        buffer.withUnsafeMutableBytes { out in
            for (i, p) in parameters.enumerated() {
                guard let src = args[i] else { continue }
                out.baseAddress!.advanced(by: p.offset).copyMemory(from: src, byteCount: p.size)
            }
        }
        return buffer
    }
}

/// A module loaded into a context: its kernels and its `__device__`/`__constant__` variables.
public final class SimModule: Sendable {
    /// Kernels by mangled name.
    public let kernels: [String: SimKernel]
    /// Module-scope variables (global and constant state spaces) by name: device address and size.
    public let variables: [String: ModuleVariable]

    init(kernels: [String: SimKernel], variables: [String: ModuleVariable]) {
        self.kernels = kernels
        self.variables = variables
    }

    /// The kernel with this mangled name.
    public func kernel(named name: String) throws(SimError) -> SimKernel {
        guard let k = kernels[name] else { throw SimError(.notFound, "module has no kernel named '\(name)'") }
        return k
    }

    /// The module-scope variable with this name.
    public func variable(named name: String) throws(SimError) -> ModuleVariable {
        guard let v = variables[name] else { throw SimError(.notFound, "module has no variable named '\(name)'") }
        return v
    }
}

/// A `__device__` or `__constant__` variable of a loaded module.
public struct ModuleVariable: Sendable, Hashable {
    public var name: String
    public var address: UInt64
    public var size: Int
    public var isConstant: Bool
}
