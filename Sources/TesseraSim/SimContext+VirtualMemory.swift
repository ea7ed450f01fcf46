#if canImport(Glibc)
import Glibc
#endif

/// Device memory made with `cuMemCreate`: it counts against the context's quota and the device's memory until
/// every reference is released and no mapping uses it.
struct PhysicalMemory: @unchecked Sendable {
    let size: Int
    let storage: UnsafeMutableRawPointer
    /// `cuMemCreate` gives one, `cuMemRetainAllocationHandle` one more, `cuMemRelease` takes one.
    var references = 1
    var mappings = 0
}

/// `size` bytes of a ``PhysicalMemory`` from `offset`, mapped at an address of a reservation. Kernels and copies
/// reach it only once `cuMemSetAccess` allowed it (flags 1: read, 3: read-write).
struct VirtualMapping: Sendable {
    let size: Int
    let handle: UInt64
    let offset: Int
    var flags: UInt32 = 0
}

/// CUDA's virtual memory management on the simulated GPU, with the semantics of the driver API: a reservation
/// holds addresses and no memory; `cuMemCreate` takes memory from the quota (refused past it); a mapping is
/// addressable once access is set; touching an unmapped or inaccessible address faults like any illegal address.
extension SimContext {
    /// `cuMemGetAllocationGranularity`.
    public var allocationGranularity: Int { SimulatedGPU.allocationGranularity }

    private func checkGranular(_ size: Int, _ what: String, allowZero: Bool = false) throws(SimError) {
        let g = SimulatedGPU.allocationGranularity
        guard size >= 0, allowZero || size > 0, size % g == 0 else {
            throw SimError(.invalidValue, "\(what) \(size) is not a positive multiple of the granularity (\(g) bytes)")
        }
    }

    /// `cuMemAddressReserve`: the base of `size` bytes of addresses, no memory behind them.
    public func reserveAddresses(_ size: Int, alignment: Int, hint: UInt64) throws(SimError) -> UInt64 {
        try checkGranular(size, "reservation size")
        guard alignment >= 0, alignment & (alignment &- 1) == 0 else { throw SimError(.invalidValue, "alignment \(alignment) is not a power of two") }
        if state.withLock({ $0.destroyed }) { throw SimError(.invalidHandle, "context destroyed") }
        let base = device.reserveAddresses(size, alignment: alignment, hint: hint, window: addressWindow)
        state.withLock { $0.reservations[base] = size }
        return base
    }

    /// `cuMemAddressFree` of a whole reservation none of which is mapped.
    public func freeAddresses(_ address: UInt64, size: Int) throws(SimError) {
        try state.withLock { (s) throws(SimError) in
            guard s.reservations[address] == size else {
                throw SimError(.invalidValue, "0x\(String(address, radix: 16))+\(size) is not a reservation of this context")
            }
            let end = address + UInt64(size)
            guard !s.mappings.keys.contains(where: { $0 >= address && $0 < end }) else {
                throw SimError(.invalidValue, "the reservation at 0x\(String(address, radix: 16)) is still mapped")
            }
            s.reservations[address] = nil
        }
    }

    /// `cuMemCreate`: a handle of `size` bytes of zeroed device memory, counted against the quota.
    public func createPhysical(_ size: Int) throws(SimError) -> UInt64 {
        try checkGranular(size, "allocation size")
        try state.withLock { (s) throws(SimError) in
            if s.destroyed { throw SimError(.invalidHandle, "context destroyed") }
            if let limit = memoryLimit, s.usedBytes + size > limit {
                throw SimError(.outOfMemory, "cuMemCreate of \(size) bytes exceeds the memory limit: \(s.usedBytes) of \(limit) bytes in use")
            }
            s.usedBytes += size
        }
        do {
            try device.claim(size)
        } catch {
            state.withLock { $0.usedBytes -= size }
            throw error
        }
        guard let storage = calloc(size, 1) else {
            device.release(size)
            state.withLock { $0.usedBytes -= size }
            throw SimError(.outOfMemory, "host memory exhausted backing \(size) bytes")
        }
        // As in allocate(_:): a context destroyed meanwhile keeps nothing.
        let handle = state.withLock { s -> UInt64? in
            guard !s.destroyed else { return nil }
            let handle = s.nextPhysicalHandle
            s.nextPhysicalHandle += 1
            s.physical[handle] = PhysicalMemory(size: size, storage: storage)
            return handle
        }
        guard let handle else {
            device.release(size)
            Glibc.free(storage)
            throw SimError(.invalidHandle, "context destroyed")
        }
        return handle
    }

    /// `cuMemRelease`: drops a reference; the memory returns to the quota once no reference or mapping is left.
    public func releasePhysical(_ handle: UInt64) throws(SimError) {
        let freed = try state.withLock { (s) throws(SimError) -> PhysicalMemory? in
            guard var p = s.physical[handle], p.references > 0 else {
                throw SimError(.invalidValue, "\(handle) is not a memory handle of this context")
            }
            p.references -= 1
            return s.settle(handle, p)
        }
        if let freed { dispose(freed) }
    }

    /// `cuMemMap`: `size` bytes of `handle` from `offset` at `address`, inside one reservation, over nothing mapped.
    public func map(_ address: UInt64, size: Int, offset: Int, handle: UInt64) throws(SimError) {
        try checkGranular(size, "mapping size")
        try checkGranular(offset, "mapping offset", allowZero: true)
        try state.withLock { (s) throws(SimError) in
            guard var p = s.physical[handle], p.references > 0 else {
                throw SimError(.invalidHandle, "\(handle) is not a memory handle of this context")
            }
            guard offset + size <= p.size else { throw SimError(.invalidValue, "mapping \(offset)+\(size) exceeds the \(p.size) bytes of handle \(handle)") }
            let end = address &+ UInt64(size)
            guard s.reservations.contains(where: { address >= $0.key && end <= $0.key + UInt64($0.value) }) else {
                throw SimError(.invalidValue, "0x\(String(address, radix: 16))+\(size) is not inside a reservation of this context")
            }
            guard !s.mappings.contains(where: { $0.key < end && address < $0.key + UInt64($0.value.size) }) else {
                throw SimError(.invalidValue, "0x\(String(address, radix: 16))+\(size) overlaps a mapping")
            }
            s.mappings[address] = VirtualMapping(size: size, handle: handle, offset: offset)
            p.mappings += 1
            s.physical[handle] = p
        }
    }

    /// `cuMemUnmap` of the whole mappings in [address, address + size), after the work queued so far.
    public func unmap(_ address: UInt64, size: Int) throws(SimError) {
        waitForAllStreams()
        let freed = try state.withLock { (s) throws(SimError) -> [PhysicalMemory] in
            let end = address &+ UInt64(size)
            let inside = s.mappings.filter { $0.key >= address && $0.key + UInt64($0.value.size) <= end }
            guard inside.values.reduce(0, { $0 + $1.size }) == size, size > 0 else {
                throw SimError(.invalidValue, "0x\(String(address, radix: 16))+\(size) is not a range of whole mappings")
            }
            var freed: [PhysicalMemory] = []
            for (base, m) in inside {
                s.mappings[base] = nil
                if var p = s.physical[m.handle] {
                    p.mappings -= 1
                    if let f = s.settle(m.handle, p) { freed.append(f) }
                }
            }
            s.rebuildAddressMap()
            return freed
        }
        for f in freed { dispose(f) }
    }

    /// `cuMemSetAccess` for the whole mappings making up [address, address + size).
    public func setAccess(_ address: UInt64, size: Int, flags: UInt32) throws(SimError) {
        guard flags & ~3 == 0, flags != 2 else { throw SimError(.invalidValue, "access flags \(flags)") }
        try state.withLock { (s) throws(SimError) in
            let end = address &+ UInt64(size)
            let inside = s.mappings.filter { $0.key >= address && $0.key + UInt64($0.value.size) <= end }
            guard inside.values.reduce(0, { $0 + $1.size }) == size, size > 0 else {
                throw SimError(.invalidValue, "0x\(String(address, radix: 16))+\(size) is not a range of whole mappings")
            }
            for base in inside.keys { s.mappings[base]?.flags = flags }
            s.rebuildAddressMap()
        }
    }

    /// `cuMemGetAccess`: the access flags of the mapping holding `address`.
    public func access(at address: UInt64) throws(SimError) -> UInt32 {
        try state.withLock { (s) throws(SimError) -> UInt32 in
            guard let m = s.mapping(containing: address) else { throw SimError(.invalidValue, "0x\(String(address, radix: 16)) is not mapped") }
            return m.value.flags
        }
    }

    /// `cuMemRetainAllocationHandle`: the handle mapped at `address`, with one more reference.
    public func retainPhysical(at address: UInt64) throws(SimError) -> UInt64 {
        try state.withLock { (s) throws(SimError) -> UInt64 in
            guard let m = s.mapping(containing: address) else { throw SimError(.invalidValue, "0x\(String(address, radix: 16)) is not mapped") }
            s.physical[m.value.handle]?.references += 1
            return m.value.handle
        }
    }

    /// Bytes of memory made with `cuMemCreate` this context holds.
    var physicalBytes: Int { state.withLock { $0.physical.values.reduce(0) { $0 + $1.size } } }

    private func dispose(_ p: PhysicalMemory) {
        device.release(p.size)
        Glibc.free(p.storage)
    }
}

extension SimContext.State {
    /// Keeps `p` under `handle`, or removes it and returns it for disposal when nothing uses it any more.
    mutating func settle(_ handle: UInt64, _ p: PhysicalMemory) -> PhysicalMemory? {
        guard p.references == 0 && p.mappings == 0 else {
            physical[handle] = p
            return nil
        }
        physical[handle] = nil
        usedBytes -= p.size
        return p
    }

    func mapping(containing address: UInt64) -> (key: UInt64, value: VirtualMapping)? {
        mappings.first { address >= $0.key && address < $0.key + UInt64($0.value.size) }
    }

    /// Mappings with access set, as ranges kernels and copies may address.
    var accessibleMappings: [Allocation] {
        mappings.compactMap { base, m in
            guard m.flags != 0, let p = physical[m.handle] else { return nil }
            return Allocation(base: base, size: m.size, storage: p.storage + m.offset)
        }
    }
}
