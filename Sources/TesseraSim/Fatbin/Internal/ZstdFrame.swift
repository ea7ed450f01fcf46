import CZstd

/// Decoder for the ZSTD frames nvcc 13 stores in fatbinary entries (flag 0x8000, frame magic 0x28B52FFD).
enum ZstdFrame {
    static let magic: UInt32 = 0xFD2F_B528

    static func decode(_ input: UnsafeRawBufferPointer, uncompressedSize: Int) throws(SimError) -> [UInt8] {
        guard input.count >= 4, input.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: magic) else {
            throw SimError(.invalidImage, "ZSTD-compressed fatbinary entry does not start with a ZSTD frame")
        }
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if declared == ZSTD_CONTENTSIZE_ERROR {
            throw SimError(.invalidImage, "corrupt ZSTD frame header")
        }
        if declared != ZSTD_CONTENTSIZE_UNKNOWN, declared != UInt64(uncompressedSize) {
            throw SimError(.invalidImage, "ZSTD frame holds \(declared) bytes, entry header says \(uncompressedSize)")
        }
        var result = 0
        // One spare byte so that a frame longer than declared is detected rather than silently cut.
        let output = [UInt8](unsafeUninitializedCapacity: uncompressedSize + 1) { out, initialized in
            result = ZSTD_decompress(out.baseAddress, out.count, input.baseAddress, input.count)
            initialized = ZSTD_isError(result) != 0 ? 0 : result
        }
        if ZSTD_isError(result) != 0 {
            let name = String(cString: ZSTD_getErrorName(result))
            throw SimError(.invalidImage, "corrupt ZSTD frame: \(name)")
        }
        guard output.count == uncompressedSize else {
            throw SimError(.invalidImage, "ZSTD frame expands to \(output.count)+ bytes, entry header says \(uncompressedSize)")
        }
        return output
    }
}
