/// One call of CUDA's virtual memory management on a vGPU. Reserving addresses costs no memory; physical memory
/// (``create(size:)``) counts against the vGPU's quota until it is released and unmapped.
public enum VirtualMemoryOperation: Sendable, Hashable {
    /// `cuMemGetAllocationGranularity`: reply value is the granularity in bytes.
    case granularity
    /// `cuMemAddressReserve`: reply value is the base address of `size` bytes aligned to `alignment` (0: the
    /// granularity); `hint` is the address wanted, honoured when free.
    case reserve(size: Int, alignment: Int, hint: UInt64)
    /// `cuMemAddressFree` of a whole reservation, none of it mapped.
    case free(address: UInt64, size: Int)
    /// `cuMemCreate`: reply value is the handle of `size` bytes (a multiple of the granularity) of device memory.
    case create(size: Int)
    /// `cuMemRelease`: the memory goes back once no mapping uses it.
    case release(handle: UInt64)
    /// `cuMemMap`: `size` bytes of `handle` from `offset` at `address`, inside one reservation.
    case map(address: UInt64, size: Int, offset: Int, handle: UInt64)
    /// `cuMemUnmap` of whole mappings.
    case unmap(address: UInt64, size: Int)
    /// `cuMemSetAccess`: `flags` is `CUmemAccess_flags` (0 none, 1 read, 3 read-write).
    case setAccess(address: UInt64, size: Int, flags: UInt32)
    /// `cuMemGetAccess`: reply value is the access flags of the mapping at `address`.
    case getAccess(address: UInt64)
    /// `cuMemRetainAllocationHandle`: reply value is the handle mapped at `address` (one more reference).
    case retain(address: UInt64)
}

/// A ``VirtualMemoryOperation`` on one vGPU. Reply: ``VirtualMemoryReply``.
public struct VirtualMemoryRequest: WireMessage, Hashable {
    public static let opcode = Opcode.virtualMemory
    public var device: Int
    public var operation: VirtualMemoryOperation
    public init(device: Int, operation: VirtualMemoryOperation) { self.device = device; self.operation = operation }

    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device))
        switch operation {
        case .granularity: w.u8(0)
        case let .reserve(size, alignment, hint): w.u8(1); w.size(size); w.size(alignment); w.u64(hint)
        case let .free(address, size): w.u8(2); w.u64(address); w.size(size)
        case let .create(size): w.u8(3); w.size(size)
        case let .release(handle): w.u8(4); w.u64(handle)
        case let .map(address, size, offset, handle): w.u8(5); w.u64(address); w.size(size); w.size(offset); w.u64(handle)
        case let .unmap(address, size): w.u8(6); w.u64(address); w.size(size)
        case let .setAccess(address, size, flags): w.u8(7); w.u64(address); w.size(size); w.u32(flags)
        case let .getAccess(address): w.u8(8); w.u64(address)
        case let .retain(address): w.u8(9); w.u64(address)
        }
    }

    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32())
        let limit = 1 << 50
        switch try r.u8() {
        case 0: operation = .granularity
        case 1: operation = .reserve(size: try r.size(max: limit), alignment: try r.size(max: limit), hint: try r.u64())
        case 2: operation = .free(address: try r.u64(), size: try r.size(max: limit))
        case 3: operation = .create(size: try r.size(max: limit))
        case 4: operation = .release(handle: try r.u64())
        case 5: operation = .map(address: try r.u64(), size: try r.size(max: limit), offset: try r.size(max: limit), handle: try r.u64())
        case 6: operation = .unmap(address: try r.u64(), size: try r.size(max: limit))
        case 7: operation = .setAccess(address: try r.u64(), size: try r.size(max: limit), flags: try r.u32())
        case 8: operation = .getAccess(address: try r.u64())
        case 9: operation = .retain(address: try r.u64())
        case let k: throw WireError(.malformed, "virtual memory operation \(k)")
        }
    }
}

/// The value a ``VirtualMemoryRequest`` answers (an address, a handle, a size or flags; 0 when none).
public struct VirtualMemoryReply: Sendable, Hashable {
    public var value: UInt64
    public init(value: UInt64) { self.value = value }
    public func encode(into w: inout WireWriter) { w.u64(value) }
    public init(from r: inout WireReader) throws(WireError) { value = try r.u64() }
}
