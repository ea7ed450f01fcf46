/// Bounds-checked little-endian reads from untrusted bytes: every read either lies wholly inside the buffer
/// or fails with ``SimError/Code/invalidImage``.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// What is being read, for error messages ("fatbinary entry 2").
    let what: String

    func check(_ offset: Int, _ count: Int) throws(SimError) {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw SimError(.invalidImage, "\(what) is truncated: needs bytes \(offset)..<\(offset &+ count), has \(bytes.count)")
        }
    }

    func u16(_ offset: Int) throws(SimError) -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) throws(SimError) -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int) throws(SimError) -> UInt64 {
        try check(offset, 8)
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A size field as an `Int`, rejecting values no real image has (and that could overflow offset arithmetic).
    func size(_ value: UInt64, _ field: String) throws(SimError) -> Int {
        guard value <= UInt64(Fatbinary.maximumPayloadSize) else {
            throw SimError(.invalidImage, "\(what): \(field) \(value) is implausibly large")
        }
        return Int(value)
    }

    func slice(_ offset: Int, _ count: Int) throws(SimError) -> UnsafeRawBufferPointer {
        try check(offset, count)
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}
