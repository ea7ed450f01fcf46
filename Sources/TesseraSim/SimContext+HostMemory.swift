extension SimContext {
    /// Maps `count` bytes of host memory at `storage` into this context's device address space at `address`
    /// (mapped, zero-copy host memory: kernels read and write the host's pages directly). The memory stays the
    /// caller's: it is not counted against the context's quota and never freed here; unmap it before releasing
    /// it. The range must not overlap device memory or another mapping.
    public func mapHostMemory(_ storage: UnsafeMutableRawPointer, count: Int, at address: UInt64) throws(SimError) {
        guard count > 0, address != 0, address &+ UInt64(count) > address else {
            throw SimError(.invalidValue, "cannot map \(count) bytes of host memory at 0x\(String(address, radix: 16))")
        }
        try state.withLock { (s) throws(SimError) in
            let end = address + UInt64(count)
            let overlaps = s.allocations.values.contains { $0.base < end && address < $0.end }
                || s.hostMappings.values.contains { $0.base < end && address < $0.end }
            guard !overlaps else {
                throw SimError(.invalidValue, "host range 0x\(String(address, radix: 16))+\(count) overlaps memory already mapped")
            }
            s.hostMappings[address] = Allocation(base: address, size: count, storage: storage)
            s.rebuildAddressMap()
        }
    }

    /// Removes a mapping made by ``mapHostMemory(_:count:at:)`` once the work queued so far is done.
    public func unmapHostMemory(at address: UInt64) {
        waitForAllStreams()
        state.withLock { s in
            guard s.hostMappings.removeValue(forKey: address) != nil else { return }
            s.rebuildAddressMap()
        }
    }
}

extension SimContext.State {
    /// Device allocations and mapped host memory: every range a kernel may address.
    mutating func rebuildAddressMap() {
        addressMap = AddressMap(Array(allocations.values) + Array(hostMappings.values) + accessibleMappings)
    }
}
