/// A parsed fatbinary container (magic 0xBA55ED50): the entries nvcc wrote for each architecture.
///
/// Layout (all little-endian): a 16-byte header `u32 magic, u16 version, u16 headerSize, u64 payloadSize`,
/// then entries back to back, each a header of its own `headerSize` followed by its payload:
/// `u16 kind, u16, u32 headerSize, u64 payloadSize, u32 compressedSize, u32 extensionOffset, u16 minor,
/// u16 major, u32 arch, u32 nameOffset, u32 nameLength, u64 flags, u64, u64 uncompressedSize`, then optional
/// header extensions. `--concat` groups (kind 0x100) list member headers after their own and compress the
/// members' payloads together. The input is treated as hostile: every offset and size is checked.
public struct FatbinaryContainer: Sendable {
    /// The container format version (1).
    public let version: Int
    /// The entries in container order; members of concatenated groups appear individually.
    public let entries: [FatbinaryEntry]
    /// The container's bytes: header plus payload (anything after the payload is not part of it).
    public let bytes: [UInt8]

    /// Parses the container at the start of `image`, copying its bytes.
    public init(_ image: UnsafeRawBufferPointer) throws(SimError) {
        let parsed = try Self.parse(image)
        version = parsed.version
        entries = parsed.entries
        bytes = Array(image[0..<parsed.size])
    }

    /// Parses the container at the start of `image`.
    public init(_ image: [UInt8]) throws(SimError) {
        let result = image.withUnsafeBytes { b in Result { () throws(SimError) in try FatbinaryContainer(b) } }
        self = try result.get()
    }

    /// The entry's bytes, decompressed.
    public func payload(of entry: FatbinaryEntry) throws(SimError) -> [UInt8] {
        let result = bytes.withUnsafeBytes { b in Result { () throws(SimError) in try Self.payload(of: entry, in: b) } }
        return try result.get()
    }

    /// The text of a PTX entry, up to its terminating NUL.
    public func ptxText(of entry: FatbinaryEntry) throws(SimError) -> String {
        try Self.ptxText(fromPayload: payload(of: entry), entry: entry)
    }

    /// The PTX entry best suited to a device of compute capability `smVersion` (major × 10 + minor).
    public func bestPTXEntry(forSM smVersion: Int) -> FatbinaryEntry? {
        Self.bestPTXEntry(in: entries, forSM: smVersion)
    }
}

extension FatbinaryContainer {
    static let magic: UInt32 = 0xBA55_ED50
    static let concatenatedKind: UInt16 = 0x100
    static let entryHeaderMinimum = 64

    static func parse(_ image: UnsafeRawBufferPointer) throws(SimError) -> (version: Int, size: Int, entries: [FatbinaryEntry]) {
        let whole = ByteReader(bytes: image, what: "fatbinary container")
        guard image.count >= 4 else { throw SimError(.invalidImage, "fatbinary container is truncated: \(image.count) bytes") }
        let magic = try whole.u32(0)
        guard magic == Self.magic else {
            throw SimError(.invalidImage, "not a fatbinary container: magic 0x\(String(magic, radix: 16)), expected 0xba55ed50")
        }
        let version = Int(try whole.u16(4))
        guard version == 1 else { throw SimError(.notSupported, "fatbinary container version \(version) (only 1 is known)") }
        let headerSize = Int(try whole.u16(6))
        let payloadSize = try whole.size(try whole.u64(8), "payload size")
        guard headerSize >= 16 else { throw SimError(.invalidImage, "fatbinary container header size \(headerSize) is below 16") }
        try whole.check(headerSize, payloadSize)
        let size = headerSize + payloadSize
        let container = UnsafeRawBufferPointer(rebasing: image[0..<size])

        var entries: [FatbinaryEntry] = []
        var offset = headerSize
        while offset < size {
            // Trailing zero padding ends the list.
            if container[offset..<size].allSatisfy({ $0 == 0 }) { break }
            offset = try parseEntry(at: offset, in: container, into: &entries)
        }
        return (version, size, entries)
    }

    /// Parses the entry (or concatenated group) at `start`; returns where the next one begins.
    private static func parseEntry(at start: Int, in container: UnsafeRawBufferPointer, into entries: inout [FatbinaryEntry]) throws(SimError) -> Int {
        let r = ByteReader(bytes: container, what: "fatbinary entry \(entries.count) at byte \(start)")
        let header = try RawEntryHeader(r, at: start)
        let headerSize = try r.size(UInt64(try r.u32(start + 4)), "header size")
        guard headerSize >= entryHeaderMinimum else {
            throw SimError(.invalidImage, "\(r.what): header size \(headerSize) is below \(entryHeaderMinimum)")
        }
        let payloadSize = try r.size(try r.u64(start + 8), "payload size")
        try r.check(start, headerSize)
        let payloadStart = start + headerSize
        try r.check(payloadStart, payloadSize)
        let headerBytes = ByteReader(bytes: try r.slice(start, headerSize), what: r.what)

        let compressed = header.flags & FatbinaryEntry.Flags.compressionMask.rawValue != 0
        let storedBytes: Int
        let uncompressedSize: Int
        if compressed {
            storedBytes = Int(try r.u32(start + 16))
            uncompressedSize = try r.size(try r.u64(start + 56), "uncompressed size")
            guard storedBytes > 0, storedBytes <= payloadSize else {
                throw SimError(.invalidImage, "\(r.what): compressed size \(storedBytes) does not fit its payload of \(payloadSize) bytes")
            }
            if header.flags & FatbinaryEntry.Flags.compressionMask.rawValue == FatbinaryEntry.Flags.lz4.rawValue,
               uncompressedSize / 255 > storedBytes {
                // LZ4 cannot expand more than 255:1; a larger claim is corrupt (and would allocate needlessly).
                throw SimError(.invalidImage, "\(r.what): \(storedBytes) LZ4 bytes cannot expand to \(uncompressedSize)")
            }
        } else {
            storedBytes = payloadSize
            uncompressedSize = payloadSize
        }

        if header.kind == concatenatedKind {
            try parseGroup(header: headerBytes, groupStart: start, payloadStart: payloadStart, payloadSize: payloadSize,
                           storedBytes: storedBytes, uncompressedSize: uncompressedSize, groupFlags: header.flags, into: &entries)
        } else {
            let (name, options) = try header.nameAndOptions(headerBytes, at: 0)
            entries.append(FatbinaryEntry(
                index: entries.count, kind: .init(raw: header.kind), arch: header.arch,
                versionMajor: header.major, versionMinor: header.minor, flags: .init(rawValue: header.flags),
                name: name, options: options, uncompressedSize: uncompressedSize, storedSize: payloadSize,
                isConcatenated: false, headerOffset: start, payloadOffset: payloadStart, compressedSize: storedBytes,
                groupUncompressedSize: uncompressedSize, sliceOffset: 0))
        }
        return payloadStart + payloadSize
    }

    /// A `--concat` group: `u32 memberCount, u32 bytes` at header offset 64 (the count counts from offset 64),
    /// then member headers laid out like entry headers, except that the header-size field holds the member's
    /// offset in the group's uncompressed payload. Member headers vary in length and carry no length of their
    /// own, so each one ends where the next begins: the first 8-aligned spot after its fixed part and
    /// extensions whose data offset continues where this member's data ends.
    private static func parseGroup(
        header: ByteReader, groupStart: Int, payloadStart: Int, payloadSize: Int, storedBytes: Int,
        uncompressedSize: Int, groupFlags: UInt64, into entries: inout [FatbinaryEntry]
    ) throws(SimError) {
        let count = Int(try header.u32(64))
        let listBytes = Int(try header.u32(68))
        let listStart = 72
        let listEnd = header.bytes.count
        guard 64 + listBytes == listEnd, count >= 1, count <= (listEnd - listStart) / entryHeaderMinimum else {
            throw SimError(.invalidImage, "\(header.what): concatenated group lists \(count) members in \(listBytes) bytes of a \(listEnd)-byte header")
        }
        var memberStart = listStart
        var dataEnd = 0
        for m in 0..<count {
            let member = try RawEntryHeader(header, at: memberStart)
            let dataOffset = Int(try header.u32(memberStart + 4))
            let dataSize = try header.size(try header.u64(memberStart + 8), "member size")
            guard dataOffset == dataEnd || dataOffset == (dataEnd + 7) & ~7, dataSize <= uncompressedSize - dataOffset else {
                throw SimError(.invalidImage, "\(header.what): member \(m) data \(dataOffset)+\(dataSize) does not follow the previous member or fit the group's \(uncompressedSize) bytes")
            }
            dataEnd = dataOffset + dataSize
            let memberEnd: Int
            if m == count - 1 {
                memberEnd = listEnd
            } else {
                memberEnd = try nextMemberStart(after: memberStart, member: member, dataEnd: dataEnd, in: header)
            }
            let memberBytes = ByteReader(bytes: try header.slice(memberStart, memberEnd - memberStart), what: header.what)
            let (name, options) = try member.nameAndOptions(memberBytes, at: 0)
            let flags = member.flags & ~FatbinaryEntry.Flags.compressionMask.rawValue
                | groupFlags & FatbinaryEntry.Flags.compressionMask.rawValue
            entries.append(FatbinaryEntry(
                index: entries.count, kind: .init(raw: member.kind), arch: member.arch,
                versionMajor: member.major, versionMinor: member.minor, flags: .init(rawValue: flags),
                name: name, options: options, uncompressedSize: dataSize, storedSize: payloadSize,
                isConcatenated: true, headerOffset: groupStart, payloadOffset: payloadStart, compressedSize: storedBytes,
                groupUncompressedSize: uncompressedSize, sliceOffset: dataOffset))
            memberStart = memberEnd
        }
    }

    private static func nextMemberStart(after start: Int, member: RawEntryHeader, dataEnd: Int, in header: ByteReader) throws(SimError) -> Int {
        let limit = header.bytes.count - entryHeaderMinimum
        var candidate = start + max(entryHeaderMinimum, member.extensionEnd)
        candidate = (candidate - 72 + 7) / 8 * 8 + 72
        while candidate <= limit {
            let kind = try header.u16(candidate)
            let offset = Int(try header.u32(candidate + 4))
            if kind != 0, kind != concatenatedKind, offset == dataEnd || offset == (dataEnd + 7) & ~7 {
                return candidate
            }
            candidate += 8
        }
        throw SimError(.invalidImage, "\(header.what): cannot find the member header after byte \(start) of a concatenated group")
    }

    static func payload(of entry: FatbinaryEntry, in image: UnsafeRawBufferPointer) throws(SimError) -> [UInt8] {
        let r = ByteReader(bytes: image, what: "fatbinary entry \(entry.index)")
        let stored = try r.slice(entry.payloadOffset, entry.compressedSize)
        let group: [UInt8]
        switch entry.compression {
        case .none:
            return Array(try r.slice(entry.payloadOffset + entry.sliceOffset, entry.uncompressedSize))
        case .lz4:
            group = try LZ4Block.decode(stored, uncompressedSize: entry.groupUncompressedSize)
        case .zstd:
            group = try ZstdFrame.decode(stored, uncompressedSize: entry.groupUncompressedSize)
        case .unknown(let bits):
            throw SimError(.notSupported, "fatbinary entry \(entry.index) (\(entry.kind), arch \(entry.arch)) uses unknown compression flag 0x\(String(bits, radix: 16))")
        }
        if !entry.isConcatenated { return group }
        return Array(group[entry.sliceOffset..<(entry.sliceOffset + entry.uncompressedSize)])
    }

    static func ptxText(fromPayload payload: [UInt8], entry: FatbinaryEntry) throws(SimError) -> String {
        let end = payload.firstIndex(of: 0) ?? payload.count
        guard payload[..<end].contains(where: { $0 > 0x20 }) else {
            throw SimError(.invalidImage, "PTX entry \(entry.index) (arch \(entry.arch)) is empty")
        }
        return String(decoding: payload[..<end], as: UTF8.self)
    }

    /// Highest architecture wins; among equals, generic PTX beats family- and arch-specific PTX (the
    /// simulator implements the portable ISA), then the newer PTX version, then the earlier entry.
    static func bestPTXEntry(in entries: [FatbinaryEntry], forSM smVersion: Int) -> FatbinaryEntry? {
        func generality(_ e: FatbinaryEntry) -> Int {
            e.flags.contains(.archSpecific) ? 0 : e.flags.contains(.familySpecific) ? 1 : 2
        }
        return entries.filter { $0.canRunPTX(onSM: smVersion) }.max { a, b in
            (a.arch, generality(a), a.versionMajor, a.versionMinor, b.index)
                < (b.arch, generality(b), b.versionMajor, b.versionMinor, a.index)
        }
    }
}

/// The fixed 64-byte part of an entry or group-member header.
private struct RawEntryHeader {
    var kind: UInt16
    var extensionOffset: Int
    var minor: Int
    var major: Int
    var arch: Int
    var nameOffset: Int
    var nameLength: Int
    var flags: UInt64

    init(_ r: ByteReader, at start: Int) throws(SimError) {
        try r.check(start, FatbinaryContainer.entryHeaderMinimum)
        kind = try r.u16(start)
        extensionOffset = Int(try r.u32(start + 20))
        minor = Int(try r.u16(start + 24))
        major = Int(try r.u16(start + 26))
        arch = Int(try r.u32(start + 28))
        nameOffset = Int(try r.u32(start + 32))
        nameLength = Int(try r.u32(start + 36))
        flags = try r.u64(start + 40)
    }

    /// Where the named extensions this header points to end, relative to its start (for group members).
    var extensionEnd: Int {
        var end = nameLength > 0 ? nameOffset + nameLength : 0
        if extensionOffset > 0 { end = max(end, extensionOffset + 8) }
        return end
    }

    /// The recorded file name and options, when present; both must lie inside `header` (this header alone).
    func nameAndOptions(_ header: ByteReader, at start: Int) throws(SimError) -> (String?, [UInt8]) {
        var name: String?
        if nameLength > 0 {
            let bytes = try header.slice(start + nameOffset, nameLength)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            name = String(decoding: bytes[..<end], as: UTF8.self)
        }
        var options: [UInt8] = []
        if extensionOffset > 0, kind != FatbinaryContainer.concatenatedKind {
            let optionsOffset = Int(try header.u32(start + extensionOffset))
            let optionsLength = Int(try header.u32(start + extensionOffset + 4))
            options = Array(try header.slice(start + optionsOffset, optionsLength))
        }
        return (name, options)
    }
}
