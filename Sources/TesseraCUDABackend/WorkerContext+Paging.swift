import Dispatch
import TesseraDevice
import TesseraWire

/// Paging on a real GPU: the worker allocates through virtual memory management, so a page-out copies each
/// allocation's bytes into the node's page store and then gives its physical memory back while its addresses
/// stay reserved; a page-in takes physical memory again, maps it at the same addresses and copies the bytes back.
extension WorkerContext {
    /// The device memory an allocation of `size` bytes occupies: rounded up to the granularity when allocating
    /// through virtual memory management.
    func deviceBytes(forAllocationOf size: Int) -> Int {
        guard let g = granularity else { return size }
        return (max(size, 1) + g - 1) / g * g
    }

    var isPagedOut: Bool { state.withLock { $0.pagedOut } }

    /// Device memory the allocations occupy now, granularity rounding included (0 while paged out).
    var residentBytes: Int { state.withLock { $0.pagedOut ? 0 : $0.physical } }

    /// What a page-in takes from the device.
    var pagedOutBytes: Int { state.withLock { $0.pagedOut ? $0.physical : 0 } }

    /// Copies are moved in chunks of this size (one frame each way).
    private static var chunk: Int { WireProtocol.maxInlineChunk }

    func pageOut(to store: any PageStore) throws(DeviceError) -> PagingTransfer {
        guard granularity != nil else { throw DeviceError(.notSupported, "this worker allocates without virtual memory management") }
        let start = DispatchTime.now().uptimeNanoseconds
        let allocations = try state.withLock { (s) throws(DeviceError) -> [(UInt64, Int)] in
            guard !s.destroyed else { throw DeviceError(.invalidHandle, "the context is destroyed") }
            guard !s.pagedOut else { throw DeviceError(.notReady, "the context is already paged out") }
            // Memory the program maps itself has its own handles and mappings: such a context is not paged.
            guard s.programMemory.isEmpty else {
                throw DeviceError(.notSupported, "the program holds memory it made with cuMemCreate, which is not paged")
            }
            return s.allocations.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        // Every stream's work finishes first: the copies below read what it wrote.
        try synchronize()
        var saved: [UInt64: [PageTicket]] = [:]
        func discardSaved() { for chunks in saved.values { for t in chunks { store.discard(t) } } }
        let staging = UnsafeMutableRawPointer.allocate(byteCount: Self.chunk, alignment: 4096)
        defer { staging.deallocate() }
        var bytes = 0
        do throws(DeviceError) {
            for (address, size) in allocations {
                var done = 0
                var chunks: [PageTicket] = []
                repeat {
                    let n = min(size - done, Self.chunk)
                    try copyFromDevice(address &+ UInt64(done), to: staging, count: n, on: defaultStream)
                    chunks.append(try store.store(UnsafeRawBufferPointer(start: staging, count: n)))
                    done += n
                } while done < size
                saved[address] = chunks
                bytes += size
            }
        } catch {
            discardSaved()
            throw error
        }
        // The bytes are safe: give the device memory back, keeping the addresses. All or nothing: a failure
        // part-way brings the evicted ones back.
        var evicted: [UInt64] = []
        do throws(DeviceError) {
            for (address, _) in allocations {
                try forward { () throws(DeviceError) in try worker.call(EvictAllocation(address: address)) }
                evicted.append(address)
            }
        } catch {
            try? restore(evicted.map { a in (a, allocations.first { $0.0 == a }!.1) }, from: store, tickets: saved)
            discardSaved()
            throw error
        }
        let kept = state.withLock { s -> Bool in
            guard !s.destroyed else { return false }
            s.pagedOut = true
            s.store = store
            s.tickets = saved
            return true
        }
        if !kept { discardSaved() }
        return PagingTransfer(bytes: bytes, nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
    }

    func pageIn() throws(DeviceError) -> PagingTransfer {
        let start = DispatchTime.now().uptimeNanoseconds
        let (paged, store, tickets, allocations) = state.withLock { s in
            (s.pagedOut, s.store, s.tickets, s.allocations.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        guard paged, let store else { return PagingTransfer(bytes: 0, nanoseconds: 0) }
        try restore(allocations, from: store, tickets: tickets)
        state.withLock { s in
            s.pagedOut = false
            s.store = nil
            s.tickets = [:]
        }
        for chunks in tickets.values { for t in chunks { store.discard(t) } }
        return PagingTransfer(bytes: allocations.reduce(0) { $0 + $1.1 },
                              nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
    }

    /// Maps fresh device memory at each allocation's addresses and copies its bytes back from the store. When
    /// the device has no room, gives back what it took and throws `outOfMemory`, changing nothing.
    private func restore(_ allocations: [(UInt64, Int)], from store: any PageStore, tickets: [UInt64: [PageTicket]]) throws(DeviceError) {
        var restored: [UInt64] = []
        do throws(DeviceError) {
            for (address, _) in allocations {
                try worker.call(RestoreAllocation(address: address))
                restored.append(address)
            }
        } catch {
            for address in restored { try? worker.call(EvictAllocation(address: address)) }
            throw error
        }
        let staging = UnsafeMutableRawPointer.allocate(byteCount: Self.chunk, alignment: 4096)
        defer { staging.deallocate() }
        for (address, _) in allocations {
            guard let chunks = tickets[address] else { throw DeviceError(.internalError, "no paged copy of 0x\(String(address, radix: 16))") }
            var offset = 0
            for t in chunks {
                try store.load(t, into: UnsafeMutableRawBufferPointer(start: staging, count: t.size))
                try copyToDevice(address &+ UInt64(offset), from: staging, count: t.size, on: defaultStream)
                offset += t.size
            }
        }
        try synchronize()
    }
}
