/// A copy of one paged-out range, held by a ``PageStore``.
public struct PageTicket: Sendable, Hashable {
    public var id: UInt64
    public var size: Int
    public init(id: UInt64, size: Int) {
        self.id = id
        self.size = size
    }
}

/// Where a paged-out context's device memory waits until it is paged back in: host memory, or a file with a
/// size cap. The node owns it; a backend's context only moves bytes between the device and the store.
public protocol PageStore: AnyObject, Sendable {
    /// Keeps a copy of `bytes`; throws `outOfMemory` when it cannot (the page-out then changes nothing).
    func store(_ bytes: UnsafeRawBufferPointer) throws(DeviceError) -> PageTicket
    /// Copies a kept range back; `destination` has the ticket's size.
    func load(_ ticket: PageTicket, into destination: UnsafeMutableRawBufferPointer) throws(DeviceError)
    /// Forgets a kept range (after a page-in, or when its context goes away while paged).
    func discard(_ ticket: PageTicket)
}

/// How a page-out or page-in went.
public struct PagingTransfer: Sendable, Hashable {
    /// Bytes moved.
    public var bytes: Int
    /// Time the move took.
    public var nanoseconds: UInt64
    public init(bytes: Int, nanoseconds: UInt64) {
        self.bytes = bytes
        self.nanoseconds = nanoseconds
    }
}

extension DeviceContext {
    /// Backends without paging hold every context's memory on the device.
    public var isPagedOut: Bool { false }

    /// Backends without paging: all of a context's memory is on the device.
    public var residentBytes: Int { memoryUsed }

    /// Backends that allocate exactly what is asked.
    public func deviceBytes(forAllocationOf size: Int) -> Int { size }

    /// Backends that allocate exactly what is asked: the bytes not resident.
    public var pagedOutBytes: Int { max(0, memoryUsed - residentBytes) }

    /// Without a backend's own answer, only the default stream is known to be idle.
    public var hasWorkInFlight: Bool { !defaultStream.isIdle }

    public func pageOut(to store: any PageStore) throws(DeviceError) -> PagingTransfer {
        throw DeviceError(.notSupported, "this GPU backend cannot page a context's memory out")
    }

    public func pageIn() throws(DeviceError) -> PagingTransfer {
        throw DeviceError(.notSupported, "this GPU backend cannot page a context's memory in")
    }
}
