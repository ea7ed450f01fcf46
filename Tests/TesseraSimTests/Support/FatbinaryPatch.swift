import Testing
@testable import TesseraSim

/// Byte surgery on real containers, for tests.
enum FatbinaryPatch {
    static func store(_ value: UInt64, at offset: Int, width: Int, in bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        for i in 0..<width { out[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return out
    }

    static func settingContainerPayload(_ bytes: [UInt8], to size: Int) -> [UInt8] {
        store(UInt64(size), at: 8, width: 8, in: bytes)
    }

    /// Replaces a (non-concatenated) entry's payload with `stored` (padded to 8 bytes) and marks it compressed.
    static func replacePayload(of entry: FatbinaryEntry, in bytes: [UInt8], stored: [UInt8], uncompressedSize: Int, addingFlags: UInt64) -> [UInt8] {
        let headerSize = entry.payloadOffset - entry.headerOffset
        var header = Array(bytes[entry.headerOffset..<entry.payloadOffset])
        let padded = stored + [UInt8](repeating: 0, count: (8 - stored.count % 8) % 8)
        header = store(UInt64(padded.count), at: 8, width: 8, in: header)
        header = store(UInt64(stored.count), at: 16, width: 4, in: header)
        header = store(entry.flags.rawValue | addingFlags, at: 40, width: 8, in: header)
        header = store(UInt64(uncompressedSize), at: 56, width: 8, in: header)
        var out = Array(bytes[..<entry.headerOffset]) + header + padded + Array(bytes[(entry.payloadOffset + entry.storedSize)...])
        out = settingContainerPayload(out, to: out.count - 16)
        #expect(headerSize >= 64)
        return out
    }
}
