/// Reads little-endian fields from a frame body, checking every bound. Decoding never traps on hostile input:
/// it throws ``WireError``.
public struct WireReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    /// Bytes not read yet.
    public var remainingCount: Int { buffer.count - position }

    /// The unread bytes (for inline payloads at the end of a body); consumes them.
    public mutating func rest() -> UnsafeRawBufferPointer {
        let r = UnsafeRawBufferPointer(rebasing: buffer[position...])
        position = buffer.count
        return r
    }

    @inline(__always)
    private mutating func take(_ n: Int) throws(WireError) -> Int {
        guard n <= buffer.count - position else {
            throw WireError(.truncated, "message needs \(n) more bytes at offset \(position), \(buffer.count - position) left")
        }
        defer { position += n }
        return position
    }

    public mutating func u8() throws(WireError) -> UInt8 { buffer.load(fromByteOffset: try take(1), as: UInt8.self) }
    public mutating func u16() throws(WireError) -> UInt16 {
        UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self))
    }
    public mutating func u32() throws(WireError) -> UInt32 {
        UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self))
    }
    public mutating func u64() throws(WireError) -> UInt64 {
        UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self))
    }
    public mutating func i32() throws(WireError) -> Int32 { Int32(bitPattern: try u32()) }
    public mutating func i64() throws(WireError) -> Int64 { Int64(bitPattern: try u64()) }

    /// A size or count: must fit in `Int` and not exceed `limit`.
    public mutating func size(max limit: Int = Int.max) throws(WireError) -> Int {
        let v = try u64()
        guard v <= UInt64(limit) else { throw WireError(.malformed, "size \(v) exceeds \(limit)") }
        return Int(v)
    }

    public mutating func bool() throws(WireError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let v: throw WireError(.malformed, "boolean field holds \(v)")
        }
    }

    public mutating func string() throws(WireError) -> String {
        let n = Int(try u32())
        guard n <= WireProtocol.maxStringLength else { throw WireError(.malformed, "string of \(n) bytes is too long") }
        let start = try take(n)
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[start..<start + n]), as: UTF8.self)
    }

    public mutating func blob(max limit: Int) throws(WireError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= limit else { throw WireError(.malformed, "blob of \(n) bytes exceeds \(limit)") }
        let start = try take(n)
        return Array(UnsafeRawBufferPointer(rebasing: buffer[start..<start + n]))
    }

    /// Throws unless every byte was read: trailing garbage is a protocol violation.
    public func expectEnd() throws(WireError) {
        guard position == buffer.count else {
            throw WireError(.malformed, "\(buffer.count - position) unexpected trailing bytes")
        }
    }
}

/// A message with a fixed opcode that encodes itself into a frame body and decodes from one.
public protocol WireMessage: Sendable {
    static var opcode: Opcode { get }
    func encode(into w: inout WireWriter)
    init(from r: inout WireReader) throws(WireError)
}

extension WireMessage {
    /// Decodes a whole body, rejecting trailing bytes.
    public static func decode(_ body: UnsafeRawBufferPointer) throws(WireError) -> Self {
        var r = WireReader(body)
        let m = try Self(from: &r)
        try r.expectEnd()
        return m
    }
}
