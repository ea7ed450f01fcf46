#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Formats a device `printf` on the host, as CUDA's driver does when it drains the printf FIFO.
///
/// CUDA's `vprintf(format, args)` ABI: `args` points to the arguments after C's default promotions
/// (char/short → int, float → double), each stored at the next offset aligned to its own size (4 for int,
/// 8 for long long, double and pointers). `%s` arguments are device addresses of NUL-terminated strings.
enum DevicePrintf {
    /// The longest string a `%s` or format is read to; CUDA truncates long strings similarly.
    static let maxStringBytes = 4096

    /// - Parameters:
    ///   - format: the format string's bytes (without the NUL).
    ///   - argument: reads `size` bytes (4 or 8) at `offset` of the argument buffer; nil if unreadable.
    ///   - string: reads the NUL-terminated string at a device address; nil if unreadable.
    /// - Returns: the formatted text and the number of arguments consumed.
    static func format(_ format: [UInt8], argument: (Int, Int) -> UInt64?, string: (UInt64) -> [UInt8]?) -> (text: [UInt8], arguments: Int) {
        var out: [UInt8] = []
        var offset = 0
        var consumed = 0
        var i = 0
        func next(_ size: Int) -> UInt64 {
            offset = (offset + size - 1) / size * size
            defer { offset += size }
            consumed += 1
            return argument(offset, size) ?? 0
        }
        while i < format.count {
            let ch = format[i]
            guard ch == UInt8(ascii: "%") else { out.append(ch); i += 1; continue }
            // One conversion: %[flags][width][.precision][length]conversion
            var spec: [UInt8] = [ch]
            i += 1
            var star: [Int32] = []
            while i < format.count, "-+ #0'".utf8.contains(format[i]) { spec.append(format[i]); i += 1 }
            func digitsOrStar() {
                if i < format.count, format[i] == UInt8(ascii: "*") {
                    star.append(Int32(truncatingIfNeeded: next(4)))
                    spec.append(format[i]); i += 1
                    return
                }
                while i < format.count, format[i] >= 48, format[i] <= 57 { spec.append(format[i]); i += 1 }
            }
            digitsOrStar()
            if i < format.count, format[i] == UInt8(ascii: ".") { spec.append(format[i]); i += 1; digitsOrStar() }
            var long = false
            while i < format.count, "hlLqjzt".utf8.contains(format[i]) {
                let c = format[i]
                if c == UInt8(ascii: "l") || c == UInt8(ascii: "q") || c == UInt8(ascii: "j") || c == UInt8(ascii: "z") || c == UInt8(ascii: "t") || c == UInt8(ascii: "L") { long = true }
                i += 1
            }
            guard i < format.count else { out += spec; break }
            let conversion = format[i]
            i += 1
            let c = Character(Unicode.Scalar(conversion))
            var text: [UInt8]
            switch c {
            case "%":
                out.append(UInt8(ascii: "%"))
                continue
            case "d", "i":
                let v = long ? Int64(bitPattern: next(8)) : Int64(Int32(truncatingIfNeeded: next(4)))
                text = render(spec + Array("lld".utf8), star, v)
            case "u", "x", "X", "o":
                let v = long ? next(8) : UInt64(UInt32(truncatingIfNeeded: next(4)))
                text = render(spec + Array("ll".utf8) + [conversion], star, v)
            case "c":
                let v = Int32(truncatingIfNeeded: next(4))
                text = render(spec + [conversion], star, v)
            case "f", "F", "e", "E", "g", "G", "a", "A":
                let v = Double(bitPattern: next(8))
                text = render(spec + [conversion], star, v)
            case "p":
                let v = next(8)
                text = render(spec + Array("llx".utf8), star, v)
                text = Array("0x".utf8) + text
            case "s":
                let address = next(8)
                let bytes = address == 0 ? Array("(null)".utf8) : (string(address) ?? Array("(invalid)".utf8))
                text = bytes.withUnsafeBufferPointer { b -> [UInt8] in
                    var z = Array(b)
                    z.append(0)
                    return z.withUnsafeBufferPointer { zp in render(spec + [conversion], star, zp.baseAddress!) }
                }
            default:
                // Unknown conversion: print it as written, as CUDA's formatter does.
                text = spec + [conversion]
            }
            out += text
        }
        return (out, consumed)
    }

    /// snprintf of one conversion with its `*` width/precision arguments and value.
    private static func render(_ spec: [UInt8], _ star: [Int32], _ value: any CVarArg) -> [UInt8] {
        var args: [any CVarArg] = star.map { $0 as any CVarArg }
        args.append(value)
        let fmt = spec.map { CChar(bitPattern: $0) } + [0]
        return withVaList(args) { list -> [UInt8] in
            var buffer = [CChar](repeating: 0, count: maxStringBytes + 512)
            // The list is consumed by one call, so measure and format with copies.
            let n = fmt.withUnsafeBufferPointer { vsnprintf(&buffer, buffer.count, $0.baseAddress!, list) }
            if n < 0 { return [] }
            if Int(n) < buffer.count { return buffer[0..<Int(n)].map { UInt8(bitPattern: $0) } }
            return buffer[0..<(buffer.count - 1)].map { UInt8(bitPattern: $0) }
        }
    }

    /// CUDA's device-assert message: `file:line: function: block: [x,y,z], thread: [x,y,z] Assertion `msg` failed.`
    static func assertMessage(message: [UInt8], file: [UInt8], line: UInt32, function: [UInt8],
                              block: (UInt32, UInt32, UInt32), thread: (Int, Int, Int)) -> [UInt8] {
        var s = String(decoding: file, as: UTF8.self) + ":\(line): " + String(decoding: function, as: UTF8.self)
        s += ": block: [\(block.0),\(block.1),\(block.2)], thread: [\(thread.0),\(thread.1),\(thread.2)] Assertion `"
        s += String(decoding: message, as: UTF8.self) + "` failed.\n"
        return Array(s.utf8)
    }
}
