/// A small greedy LZ4 block encoder, to build CUDA 12-style compressed fatbinary entries (flag 0x2000) from
/// nvcc's uncompressed output: nvcc 13 writes LZ4 only in `-compress-mode=speed`, and no CUDA 12 binary is
/// kept in the repository. Follows the format's end rules (last 5 bytes are literals; no match starts in the
/// last 12 bytes).
enum LZ4TestEncoder {
    static func encode(_ source: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var table = [Int](repeating: -1, count: 1 << 12)
        let n = source.count
        var anchor = 0
        var i = 0
        func hash(_ p: Int) -> Int {
            let v = UInt32(source[p]) | UInt32(source[p + 1]) << 8 | UInt32(source[p + 2]) << 16 | UInt32(source[p + 3]) << 24
            return Int((v &* 2_654_435_761) >> 20)
        }
        func writeLength(_ length: Int) {
            var rest = length
            while rest >= 255 { out.append(255); rest -= 255 }
            out.append(UInt8(rest))
        }
        func emit(_ literals: ArraySlice<UInt8>, match: (offset: Int, length: Int)?) {
            let matchCode = match.map { $0.length - 4 } ?? 0
            out.append(UInt8(min(literals.count, 15) << 4 | min(matchCode, 15)))
            if literals.count >= 15 { writeLength(literals.count - 15) }
            out += literals
            if let match {
                out += [UInt8(match.offset & 0xFF), UInt8(match.offset >> 8)]
                if matchCode >= 15 { writeLength(matchCode - 15) }
            }
        }
        while i < n - 12 {
            let h = hash(i)
            let candidate = table[h]
            table[h] = i
            if candidate >= 0, i - candidate <= 65535, source[candidate..<(candidate + 4)] == source[i..<(i + 4)] {
                var length = 4
                while i + length < n - 5, source[candidate + length] == source[i + length] { length += 1 }
                emit(source[anchor..<i], match: (i - candidate, length))
                i += length
                anchor = i
            } else {
                i += 1
            }
        }
        emit(source[anchor..<n], match: nil)
        return out
    }
}
