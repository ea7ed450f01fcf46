#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole text file with the C library (keeps Foundation out of this module).
enum TextFile {
    static func read(_ path: String) throws(PlacementEngineError) -> String {
        guard let file = fopen(path, "rb") else {
            throw PlacementEngineError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count {
                if ferror(file) != 0 { throw PlacementEngineError(.io, "cannot read \(path)") }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
