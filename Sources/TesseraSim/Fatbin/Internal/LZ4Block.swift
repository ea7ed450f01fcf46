/// Decoder for the LZ4 block format, as CUDA 12 toolchains and nvcc's `-compress-mode=speed` store fatbinary
/// entries (flag 0x2000): one raw block of exactly `compressedSize` bytes that expands to exactly
/// `uncompressedSize` bytes, with no frame header or checksum.
///
/// A block is a run of sequences: a token (high nibble literal count, low nibble match length − 4; 15 means
/// more length bytes follow, each added, until one below 255), the literals, then a 2-byte little-endian
/// back-reference offset and the match. The last sequence has literals only.
enum LZ4Block {
    static func decode(_ input: UnsafeRawBufferPointer, uncompressedSize: Int) throws(SimError) -> [UInt8] {
        var failure: SimError?
        let output = [UInt8](unsafeUninitializedCapacity: uncompressedSize) { out, initialized in
            do throws(SimError) {
                initialized = try decode(input, into: out)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        guard output.count == uncompressedSize else {
            throw SimError(.invalidImage, "LZ4 block expands to \(output.count) bytes, header says \(uncompressedSize)")
        }
        return output
    }

    /// Decodes into `out`, returning how many bytes were written. Never reads or writes outside the buffers.
    private static func decode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) throws(SimError) -> Int {
        let end = input.count
        var i = 0
        var o = 0
        func corrupt(_ why: String) -> SimError { SimError(.invalidImage, "corrupt LZ4 block at byte \(i): \(why)") }
        func length(_ nibble: Int) throws(SimError) -> Int {
            var n = nibble
            guard nibble == 15 else { return n }
            while true {
                guard i < end else { throw corrupt("length runs past the end") }
                let b = Int(input[i])
                i += 1
                n += b
                // Any length beyond the output capacity is corrupt; stop before it can overflow.
                guard n <= out.count else { throw corrupt("length \(n) exceeds the output") }
                if b != 255 { return n }
            }
        }
        while i < end {
            let token = Int(input[i])
            i += 1
            let literals = try length(token >> 4)
            guard literals <= end - i else { throw corrupt("\(literals) literals run past the input") }
            guard literals <= out.count - o else { throw corrupt("\(literals) literals overflow the output") }
            if literals > 0 {
                UnsafeMutableRawPointer(out.baseAddress! + o).copyMemory(from: input.baseAddress! + i, byteCount: literals)
            }
            i += literals
            o += literals
            if i == end { break }  // the last sequence carries literals only
            guard end - i >= 2 else { throw corrupt("match offset runs past the input") }
            let offset = Int(input[i]) | Int(input[i + 1]) << 8
            i += 2
            guard offset > 0, offset <= o else { throw corrupt("match offset \(offset) reaches before the output start") }
            let match = try length(token & 15) + 4
            guard match <= out.count - o else { throw corrupt("match of \(match) bytes overflows the output") }
            // Byte by byte: an offset shorter than the match repeats the bytes it has just written.
            var from = o - offset
            for _ in 0..<match {
                out[o] = out[from]
                o += 1
                from += 1
            }
        }
        return o
    }
}
