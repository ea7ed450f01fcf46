import TesseraDevice
import TesseraWire

/// Mapped (zero-copy) host memory on a real GPU: the session's worker maps the shared-memory file at the
/// program's address, page-locks it for the device (`cuMemHostRegister` with `CU_MEMHOSTREGISTER_DEVICEMAP`)
/// and checks that kernels address it there (unified addressing), so the program's pointer works in its kernels.
extension WorkerContext {
    func mapHostMemory(_ memory: SharedHostMemory, at address: UInt64) throws(DeviceError) {
        guard memory.file >= 0 else { throw DeviceError(.notSupported, "host memory without its shared file cannot be mapped into a GPU worker") }
        try forward { () throws(DeviceError) in
            // The worker names its mapping by the program's address.
            try worker.call(RegisterHostMemory(region: address, size: memory.count, address: address), passing: memory.file)
        }
        // Copies to and from it name it by that address too.
        state.withLock { $0.hostRegions.append(HostRegionShare(base: UInt(bitPattern: memory.storage), count: memory.count, region: address)) }
    }

    /// The worker synchronises its context, unregisters the memory and unmaps it.
    func unmapHostMemory(at address: UInt64) {
        state.withLock { $0.hostRegions.removeAll { $0.region == address } }
        guard !state.withLock({ $0.destroyed }) else { return }
        try? worker.call(UnregisterHostMemory(region: address))
    }

    /// Passes the region's file to the worker, which maps it (anywhere) and page-locks it for the device; copies
    /// between a device and the node's mapping of it then name the region and the worker copies from its own
    /// mapping (`cuMemcpyHtoDAsync`/`cuMemcpyDtoHAsync`, in stream order) instead of the bytes crossing the link.
    func shareHostMemory(_ memory: SharedHostMemory) throws(DeviceError) {
        guard memory.file >= 0 else { throw DeviceError(.notSupported, "host memory without its shared file cannot be shared with a GPU worker") }
        // Ids with the top bit set: mapped host memory uses the program's address (below 2^63) as its id.
        let region = state.withLock { s in
            defer { s.nextRegion += 1 }
            return (1 << 63) | s.nextRegion
        }
        try forward { () throws(DeviceError) in
            try worker.call(RegisterHostMemory(region: region, size: memory.count, address: 0), passing: memory.file)
        }
        state.withLock { $0.hostRegions.append(HostRegionShare(base: UInt(bitPattern: memory.storage), count: memory.count, region: region)) }
    }

    /// The worker synchronises its context, unregisters the region and unmaps it.
    func unshareHostMemory(_ memory: SharedHostMemory) {
        let base = UInt(bitPattern: memory.storage)
        let share = state.withLock { s -> HostRegionShare? in
            guard let i = s.hostRegions.firstIndex(where: { $0.base == base && $0.region >> 63 == 1 }) else { return nil }
            return s.hostRegions.remove(at: i)
        }
        guard let share, !state.withLock({ $0.destroyed }) else { return }
        try? worker.call(UnregisterHostMemory(region: share.region))
    }

    /// Where the worker finds [pointer, pointer + count) of the node's memory, when a shared region holds it all.
    func sharedLocation(of pointer: UnsafeRawPointer, count: Int) -> HostLocation? {
        let p = UInt(bitPattern: pointer)
        return state.withLock { s in
            for r in s.hostRegions where p >= r.base && count <= r.count && p - r.base <= UInt(r.count - count) {
                return .region(r.region, offset: Int(p - r.base))
            }
            return nil
        }
    }
}

/// Host memory of the node that the worker maps too: the node's mapping and the worker's name of it.
struct HostRegionShare {
    var base: UInt
    var count: Int
    var region: UInt64
}
