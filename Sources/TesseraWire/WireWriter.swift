/// Appends little-endian fields and whole frames to a byte buffer. Reusing one writer (``reset()``) keeps the
/// hot path free of allocations.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Forgets the contents, keeping the storage.
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always)
    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    @inline(__always)
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    @inline(__always)
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    @inline(__always)
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    @inline(__always)
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }

    @inline(__always)
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// A non-negative count or size, carried as u64.
    @inline(__always)
    public mutating func size(_ v: Int) { u64(UInt64(max(0, v))) }

    public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }

    /// A string: u32 length, then UTF-8 bytes (cut at ``WireProtocol/maxStringLength``).
    public mutating func string(_ s: String) {
        var utf8 = Array(s.utf8)
        if utf8.count > WireProtocol.maxStringLength { utf8.removeLast(utf8.count - WireProtocol.maxStringLength) }
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Raw bytes without a length prefix (inline payloads at the end of a body).
    public mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }

    /// Appends `count` bytes that `body` writes into zeroed scratch space at once: one append for a message's
    /// fixed fields instead of one per field, which the launch path notices.
    @inline(__always)
    public mutating func fixed(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
            scratch.initializeMemory(as: UInt8.self, repeating: 0)
            body(scratch.baseAddress!)
            bytes.append(contentsOf: UnsafeRawBufferPointer(scratch))
        }
    }

    /// Appends `n` zero bytes (space a caller fills through ``withUnsafeMutableBytes(_:)``).
    public mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }

    /// Direct access to everything written so far.
    public mutating func withUnsafeMutableBytes<T>(_ body: (UnsafeMutableRawBufferPointer) -> T) -> T {
        bytes.withUnsafeMutableBytes(body)
    }

    /// Overwrites bytes already written, starting at `offset` (to fix up a header).
    public mutating func patch(at offset: Int, with replacement: [UInt8]) {
        bytes.replaceSubrange(offset..<offset + replacement.count, with: replacement)
    }

    /// Raw bytes with a u32 length prefix.
    public mutating func blob(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes.append(contentsOf: b)
    }

    /// Appends one frame whose body `body` writes; the header's length is filled in afterwards.
    public mutating func frame(
        _ opcode: Opcode, flags: FrameFlags = [], requestID: UInt64, body: (inout WireWriter) -> Void
    ) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: WireProtocol.headerSize))
        body(&self)
        let header = FrameHeader(opcode: opcode, flags: flags, bodyLength: bytes.count - start - WireProtocol.headerSize, requestID: requestID)
        bytes.withUnsafeMutableBytes { header.encode(to: $0.baseAddress! + start) }
    }

    /// Appends one frame carrying `message`.
    public mutating func frame<M: WireMessage>(_ message: M, flags: FrameFlags = [], requestID: UInt64) {
        frame(M.opcode, flags: flags, requestID: requestID) { message.encode(into: &$0) }
    }
}
