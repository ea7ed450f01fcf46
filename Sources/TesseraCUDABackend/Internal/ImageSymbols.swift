#if canImport(Glibc)
import Glibc
#endif

/// Names that may be `__device__`/`__constant__` variables of a module image. The driver API cannot enumerate a
/// module's globals, so the worker asks `cuModuleGetGlobal` about every identifier the image spells out: PTX
/// declares them in its text, an ELF cubin in its string table. Compressed fatbinary entries (LZ4 before CUDA 13,
/// ZSTD since) are decompressed first with the system's liblz4/libzstd, loaded with `dlopen` when present;
/// without them, the variables of compressed entries are not found.
enum ImageSymbols {
    /// Identifiers of the image and of its decompressed fatbinary entries.
    static func candidates(inModule image: UnsafeRawBufferPointer, limit: Int = 8192) -> [String] {
        var names = candidates(in: image, limit: limit)
        var seen = Set(names)
        for payload in decompressedEntries(image) where names.count < limit {
            let more = payload.withUnsafeBytes { candidates(in: $0, limit: limit - names.count) }
            for n in more where seen.insert(n).inserted { names.append(n) }
        }
        return names
    }

    /// The decompressed payloads of a fatbinary container's compressed entries (a `--concat` group as one
    /// payload). Layout facts: container `u32 magic 0xBA55ED50, u16 version, u16 headerSize, u64 size`; entry
    /// `u16 kind, u16, u32 headerSize, u64 payloadSize, u32 compressedSize` at 16, flags (u64) at 40,
    /// uncompressed size (u64) at 56; flags 0x2000 LZ4, 0x8000 ZSTD.
    static func decompressedEntries(_ image: UnsafeRawBufferPointer) -> [[UInt8]] {
        func u16(_ o: Int) -> Int { o + 2 <= image.count ? Int(image.loadUnaligned(fromByteOffset: o, as: UInt16.self)) : 0 }
        func u32(_ o: Int) -> Int { o + 4 <= image.count ? Int(image.loadUnaligned(fromByteOffset: o, as: UInt32.self)) : 0 }
        func u64(_ o: Int) -> Int { o + 8 <= image.count ? Int(truncatingIfNeeded: image.loadUnaligned(fromByteOffset: o, as: UInt64.self)) : 0 }
        guard image.count >= 16, u32(0) == 0xBA55_ED50 else { return [] }
        let end = min(image.count, u16(6) + max(0, u64(8)))
        var offset = u16(6)
        var result: [[UInt8]] = []
        while offset + 64 <= end, result.count < 256 {
            let headerSize = u32(offset + 4), payloadSize = u64(offset + 8)
            guard headerSize >= 64, payloadSize >= 0, offset + headerSize + payloadSize <= end else { break }
            let flags = u64(offset + 40) & 0xE000
            let stored = u32(offset + 16), size = u64(offset + 56)
            let payload = offset + headerSize
            if flags != 0, stored > 0, stored <= payloadSize, size > 0, size <= 1 << 30 {
                let source = UnsafeRawBufferPointer(rebasing: image[payload..<payload + stored])
                if let out = Decompressor.shared.decode(source, size: size, zstd: flags == 0x8000) { result.append(out) }
            }
            offset = payload + payloadSize
        }
        return result
    }


    /// Identifiers of the image, each once, at most `limit`.
    static func candidates(in image: UnsafeRawBufferPointer, limit: Int = 4096) -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        var start = -1
        func isIdentifier(_ c: UInt8, first: Bool) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F || c == 0x24 || (!first && c >= 0x30 && c <= 0x39)
        }
        for i in 0...image.count {
            let c: UInt8 = i < image.count ? image[i] : 0
            if start < 0 {
                if isIdentifier(c, first: true) { start = i }
                continue
            }
            if isIdentifier(c, first: false) { continue }
            let length = i - start
            // A name preceded by '.' or '%' is a PTX directive or register, not a symbol.
            let preceding: UInt8 = start > 0 ? image[start - 1] : 0
            if length >= 1, length <= 512, preceding != 0x2E, preceding != 0x25 {
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: image[start..<i]), as: UTF8.self)
                if seen.insert(name).inserted {
                    names.append(name)
                    if names.count >= limit { return names }
                }
            }
            start = -1
        }
        return names
    }
}

/// liblz4 and libzstd, if the system has them (never linked: the backend must load without them).
final class Decompressor: @unchecked Sendable {
    static let shared = Decompressor()
    typealias FZstd = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int) -> Int
    typealias FZstdIsError = @convention(c) (Int) -> UInt32
    typealias FLZ4 = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32
    let zstd: FZstd?
    let zstdIsError: FZstdIsError?
    let lz4: FLZ4?

    private init() {
        let z = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL)
        zstd = z.flatMap { dlsym($0, "ZSTD_decompress") }.map { unsafeBitCast($0, to: FZstd.self) }
        zstdIsError = z.flatMap { dlsym($0, "ZSTD_isError") }.map { unsafeBitCast($0, to: FZstdIsError.self) }
        let l = dlopen("liblz4.so.1", RTLD_NOW | RTLD_LOCAL)
        lz4 = l.flatMap { dlsym($0, "LZ4_decompress_safe") }.map { unsafeBitCast($0, to: FLZ4.self) }
    }

    func decode(_ source: UnsafeRawBufferPointer, size: Int, zstd useZstd: Bool) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: size)
        let n: Int = out.withUnsafeMutableBytes { o in
            if useZstd {
                guard let zstd, let zstdIsError else { return -1 }
                let r = zstd(o.baseAddress, size, source.baseAddress, source.count)
                return zstdIsError(r) != 0 ? -1 : r
            }
            guard let lz4, size <= Int(Int32.max), source.count <= Int(Int32.max) else { return -1 }
            return Int(lz4(source.baseAddress?.assumingMemoryBound(to: CChar.self), o.baseAddress?.assumingMemoryBound(to: CChar.self),
                           Int32(source.count), Int32(size)))
        }
        return n > 0 ? Array(out.prefix(n)) : nil
    }
}
