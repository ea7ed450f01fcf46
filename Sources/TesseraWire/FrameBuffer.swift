/// Reassembles frames from a byte stream. Bytes go in as they arrive (``append(_:)`` or by writing into
/// ``writableSpace(minimum:)``); complete, validated frames come out of ``nextFrame()``.
///
/// Validation happens on the header alone, before the body arrives: an oversized or unknown frame is
/// rejected without buffering it.
public struct FrameBuffer {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    /// Largest body accepted.
    public let maxBody: Int

    public init(maxBody: Int, initialCapacity: Int = 64 << 10) {
        self.maxBody = maxBody
        capacity = initialCapacity
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Releases the storage. The buffer must not be used afterwards.
    public mutating func deallocate() { storage.deallocate(); capacity = 0 }

    /// Bytes buffered but not yet returned as frames.
    public var bufferedCount: Int { end - start }

    /// Space to read at least `minimum` more bytes into; report how many arrived with ``commit(_:)``.
    public mutating func writableSpace(minimum: Int = 16 << 10) -> UnsafeMutableRawBufferPointer {
        if capacity - end < minimum {
            // Move the unread bytes to the front, growing when that is not enough.
            let pending = end - start
            if capacity - pending < minimum {
                var newCapacity = capacity
                while newCapacity - pending < minimum { newCapacity *= 2 }
                let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
                fresh.copyMemory(from: storage + start, byteCount: pending)
                storage.deallocate()
                storage = fresh
                capacity = newCapacity
            } else if start > 0 {
                (storage).copyMemory(from: storage + start, byteCount: pending)
            }
            start = 0
            end = pending
        }
        return UnsafeMutableRawBufferPointer(start: storage + end, count: capacity - end)
    }

    /// Records that `count` bytes were written into the space from ``writableSpace(minimum:)``.
    public mutating func commit(_ count: Int) { end += count }

    /// Appends bytes (tests and fuzzing).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let space = writableSpace(minimum: bytes.count)
        space.copyMemory(from: bytes)
        commit(bytes.count)
    }

    /// How many more bytes are needed before the next frame is complete (0 when one is ready).
    public func bytesNeeded() throws(WireError) -> Int {
        let pending = end - start
        guard pending >= WireProtocol.headerSize else { return WireProtocol.headerSize - pending }
        let header = try FrameHeader.decode(UnsafeRawBufferPointer(start: storage + start, count: pending), maxBody: maxBody)
        return max(0, WireProtocol.headerSize + header.bodyLength - pending)
    }

    /// The next complete frame, or nil when more bytes are needed. The body stays valid until the next call
    /// that changes the buffer.
    public mutating func nextFrame() throws(WireError) -> (header: FrameHeader, body: UnsafeRawBufferPointer)? {
        let pending = end - start
        guard pending >= WireProtocol.headerSize else { return nil }
        let header = try FrameHeader.decode(UnsafeRawBufferPointer(start: storage + start, count: pending), maxBody: maxBody)
        let total = WireProtocol.headerSize + header.bodyLength
        guard pending >= total else { return nil }
        let body = UnsafeRawBufferPointer(start: storage + start + WireProtocol.headerSize, count: header.bodyLength)
        start += total
        if start == end { start = 0; end = 0 }
        return (header, body)
    }
}
