import Dispatch
#if canImport(Glibc)
import Glibc
#endif

extension SimContext {
    /// Whether the context's allocations are paged out.
    public var isPagedOut: Bool { state.withLock { !$0.pagedOut.isEmpty } }

    /// Bytes of this context's allocations that occupy device memory now.
    public var residentBytes: Int {
        state.withLock { s in s.allocations.values.reduce(0) { $0 + $1.size } + s.physical.values.reduce(0) { $0 + $1.size } }
    }

    /// Whether any stream of the context has work queued or running.
    public var hasWorkInFlight: Bool {
        let streams = state.withLock { Array($0.streams.values) }
        return streams.contains { !$0.isIdle }
    }

    /// Pages every allocation out: `save` receives each one's address and bytes (and must copy them), then the
    /// device memory is given back while the addresses stay taken. All or nothing: when `save` throws, nothing
    /// changed (the caller discards what it saved). Fails while work is in flight or the context is paged out.
    /// Returns the bytes paged out.
    public func pageOut(_ save: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let allocations = try state.withLock { (s) throws(SimError) -> [Allocation] in
            if s.destroyed { throw SimError(.invalidHandle, "context destroyed") }
            if s.paging || !s.pagedOut.isEmpty { throw SimError(.notReady, "the context is already paged out") }
            // Memory the program manages itself (cuMemCreate / cuMemMap) has its own handles and mappings: not paged.
            if !s.physical.isEmpty { throw SimError(.notSupported, "the context holds memory made with cuMemCreate, which is not paged") }
            s.paging = true
            return s.allocations.values.sorted { $0.base < $1.base }
        }
        defer { state.withLock { $0.paging = false } }
        if hasWorkInFlight { throw SimError(.notReady, "the context has work in flight") }
        for a in allocations { try save(a.base, UnsafeRawBufferPointer(start: a.storage, count: a.size)) }
        let total = state.withLock { s -> Int in
            for a in allocations {
                s.allocations[a.base] = nil
                s.pagedOut[a.base] = a.size
            }
            s.rebuildAddressMap()
            return allocations.reduce(0) { $0 + $1.size }
        }
        for a in allocations {
            device.release(a.size)
            a.destroy()
        }
        return total
    }

    /// Pages the allocations back in at their addresses: takes the device memory (throwing `outOfMemory`,
    /// unchanged, when the device lacks it), then `load` fills each one's fresh storage. Returns the bytes.
    public func pageIn(_ load: (UInt64, UnsafeMutableRawBufferPointer) throws -> Void) throws -> Int {
        let paged = try state.withLock { (s) throws(SimError) -> [(UInt64, Int)] in
            if s.destroyed { throw SimError(.invalidHandle, "context destroyed") }
            if s.paging { throw SimError(.notReady, "a page-out or page-in is under way") }
            s.paging = true
            return s.pagedOut.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        defer { state.withLock { $0.paging = false } }
        let total = paged.reduce(0) { $0 + $1.1 }
        try device.claim(total)
        var restored: [Allocation] = []
        do {
            for (base, size) in paged {
                guard let a = Allocation.make(base: base, size: size) else {
                    throw SimError(.outOfMemory, "host memory exhausted backing \(size) bytes")
                }
                restored.append(a)
                try load(base, UnsafeMutableRawBufferPointer(start: a.storage, count: size))
            }
        } catch {
            for a in restored { a.destroy() }
            device.release(total)
            throw error
        }
        state.withLock { s in
            for a in restored {
                s.pagedOut[a.base] = nil
                s.allocations[a.base] = a
            }
            s.rebuildAddressMap()
        }
        return total
    }
}
