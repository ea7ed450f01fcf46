/// Per-frame flags.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The sender waits for a reply (a synchronous call). Without it a request is pipelined.
    public static let replyExpected = FrameFlags(rawValue: 1 << 0)
    /// More frames of the same reply follow (bulk data split across frames).
    public static let moreFollows = FrameFlags(rawValue: 1 << 1)

    static let all: FrameFlags = [.replyExpected, .moreFollows]
}

/// The fixed 16-byte header in front of every frame, little-endian:
/// `u8 version, u8 flags, u16 opcode, u32 bodyLength, u64 requestID`.
public struct FrameHeader: Sendable, Hashable {
    public var flags: FrameFlags
    public var opcode: Opcode
    public var bodyLength: Int
    /// Chosen by the client, increasing; a reply carries the id of its request.
    public var requestID: UInt64

    public init(opcode: Opcode, flags: FrameFlags = [], bodyLength: Int, requestID: UInt64) {
        self.flags = flags
        self.opcode = opcode
        self.bodyLength = bodyLength
        self.requestID = requestID
    }

    /// Writes the header into 16 bytes at `p`.
    public func encode(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: WireProtocol.version, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: flags.rawValue, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: opcode.rawValue.littleEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: UInt32(truncatingIfNeeded: bodyLength).littleEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: requestID.littleEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// Reads and validates a header.
    /// - Parameter maxBody: the largest body the receiver accepts; longer frames are rejected before any
    ///   memory is set aside for them.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxBody: Int) throws(WireError) -> FrameHeader {
        guard bytes.count >= WireProtocol.headerSize else {
            throw WireError(.truncated, "frame header needs \(WireProtocol.headerSize) bytes, got \(bytes.count)")
        }
        let version = bytes.load(fromByteOffset: 0, as: UInt8.self)
        guard version == WireProtocol.version else {
            throw WireError(.unsupportedVersion, "frame version \(version), expected \(WireProtocol.version)")
        }
        let flags = FrameFlags(rawValue: bytes.load(fromByteOffset: 1, as: UInt8.self))
        guard FrameFlags.all.isSuperset(of: flags) else {
            throw WireError(.malformed, "unknown frame flags 0x\(String(flags.rawValue, radix: 16))")
        }
        let rawOpcode = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        guard let opcode = Opcode(rawValue: rawOpcode) else {
            throw WireError(.malformed, "unknown opcode \(rawOpcode)")
        }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length <= maxBody else {
            throw WireError(.malformed, "frame body of \(length) bytes exceeds the limit of \(maxBody)")
        }
        let id = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return FrameHeader(opcode: opcode, flags: flags, bodyLength: length, requestID: id)
    }
}
