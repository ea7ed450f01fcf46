#if canImport(Glibc)
import Glibc
#endif

/// Diagnostics on stderr, one line each, prefixed so they are told apart from the program's own output.
package enum Log {
    private static let lock = Lock()
    nonisolated(unsafe) private static var once: Set<String> = []

    package static let debugEnabled: Bool = {
        guard let v = getenv("TESSERA_LOG") else { return false }
        return String(cString: v) == "debug"
    }()

    package static func error(_ message: String) { write("tessera: \(message)\n") }

    package static func debug(_ message: @autoclosure () -> String) {
        if debugEnabled { write("tessera[debug]: \(message())\n") }
    }

    /// Logs `message` the first time `key` is seen.
    package static func once(_ key: String, _ message: @autoclosure () -> String) {
        let first = lock.withLock { once.insert(key).inserted }
        if first { error(message()) }
    }

    private static func write(_ line: String) {
        var line = line
        line.withUTF8 { b in
            var offset = 0
            while offset < b.count {
                let n = Glibc.write(2, b.baseAddress! + offset, b.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
