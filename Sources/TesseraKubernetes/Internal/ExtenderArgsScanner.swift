import Foundation
import Synchronization

/// Reads `ExtenderArgs` without building a Foundation object tree for the node list: with 1,000+ node names,
/// `JSONDecoder` spends most of the extender's time there. The scanner walks the top-level object itself,
/// matching keys case-insensitively as Go's decoder does, reads `NodeNames` straight into strings and hands
/// only the small `Pod` value to `JSONDecoder`. Anything unusual (node objects, escaped keys) goes the
/// general way, so the result always equals `JSONDecoder().decode(ExtenderArgs.self, …)`.
struct ExtenderArgsScanner {
    struct Malformed: Error {
        var message: String
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Decodes `body`; throws ``KubernetesError/Code/invalidRequest`` when it is not a valid request.
    static func decode(_ body: some Collection<UInt8>) throws(KubernetesError) -> ExtenderArgs {
        let result: Result<ExtenderArgs, KubernetesError>? = body.withContiguousStorageIfAvailable { buffer in
            Result { () throws(KubernetesError) -> ExtenderArgs in try decode(buffer) }
        }
        if let result { return try result.get() }
        return try Array(body).withUnsafeBufferPointer { (buffer) throws(KubernetesError) -> ExtenderArgs in try decode(buffer) }
    }

    private static func decode(_ buffer: UnsafeBufferPointer<UInt8>) throws(KubernetesError) -> ExtenderArgs {
        var scanner = ExtenderArgsScanner(buffer)
        do {
            if let args = try scanner.scanArguments() { return args }
        } catch let error as KubernetesError {
            throw error
        } catch let error as Malformed {
            throw KubernetesError(.invalidRequest, "malformed ExtenderArgs: \(error.message)")
        } catch {
            throw KubernetesError(.invalidRequest, "malformed ExtenderArgs: \(error)")
        }
        // The general way, for shapes the scanner leaves alone.
        do {
            return try JSONDecoder().decode(ExtenderArgs.self, from: Data(buffer))
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError(.invalidRequest, "malformed ExtenderArgs: \(error)")
        }
    }

    /// The arguments, or `nil` when the general decoder must take over.
    private mutating func scanArguments() throws -> ExtenderArgs? {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        var podRange: Range<Int>?
        var nodeNames: [String]?
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let key = try scanKeyRange()
                guard let key else { return nil }  // an escaped key
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                switch keyName(key) {
                case .pod:
                    let start = position
                    try skipValue()
                    podRange = start..<position
                case .nodes:
                    guard isNull() else { return nil }  // node objects: kept verbatim by the general way
                    position += 4
                case .nodeNames:
                    if isNull() {
                        position += 4
                        nodeNames = nil
                    } else {
                        guard let names = try scanStringArray() else { return nil }
                        nodeNames = names
                    }
                case .other:
                    try skipValue()
                }
                skipWhitespace()
                let next = try take()
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw Malformed(message: "expected ',' or '}' at byte \(position - 1)") }
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw Malformed(message: "trailing bytes after the object at byte \(position)") }
        guard let podRange, !isNull(at: podRange.lowerBound) else {
            throw KubernetesError(.invalidRequest, "extender arguments without a Pod")
        }
        let podBytes = UnsafeBufferPointer(rebasing: bytes[podRange])
        if let pod = Self.recentPods.withLock({ $0.pod(for: podBytes) }) {
            return ExtenderArgs(pod: pod, nodes: nil, nodeNames: nodeNames)
        }
        let pod = try JSONDecoder().decode(Pod.self, from: Data(podBytes))
        Self.recentPods.withLock { $0.remember(pod, for: podBytes) }
        return ExtenderArgs(pod: pod, nodes: nil, nodeNames: nodeNames)
    }

    /// kube-scheduler sends the same pod, byte for byte, to filter and then to prioritize: the second call
    /// reuses the first's decoding (the pod is most of the decoder's time once the node names are scanned).
    static let recentPods = Mutex(RecentPods())

    /// The last few pods decoded, keyed by their exact JSON bytes.
    struct RecentPods {
        private var entries: [(hash: Int, bytes: [UInt8], pod: Pod)] = []
        private var next = 0
        static let capacity = 16

        func pod(for bytes: UnsafeBufferPointer<UInt8>) -> Pod? {
            let hash = Self.hash(bytes)
            for entry in entries where entry.hash == hash && entry.bytes.elementsEqual(bytes) { return entry.pod }
            return nil
        }

        mutating func remember(_ pod: Pod, for bytes: UnsafeBufferPointer<UInt8>) {
            let entry = (Self.hash(bytes), Array(bytes), pod)
            if entries.count < Self.capacity {
                entries.append(entry)
            } else {
                entries[next] = entry
                next = (next + 1) % Self.capacity
            }
        }

        static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
            var hasher = Hasher()
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
            return hasher.finalize()
        }
    }

    private enum Key { case pod, nodes, nodeNames, other }

    /// Go's decoder matches field names ignoring ASCII case.
    private func keyName(_ range: Range<Int>) -> Key {
        if equalsIgnoringCase(range, "pod") { return .pod }
        if equalsIgnoringCase(range, "nodes") { return .nodes }
        if equalsIgnoringCase(range, "nodenames") { return .nodeNames }
        return .other
    }

    private func equalsIgnoringCase(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for i in 0..<range.count {
            var byte = bytes[range.lowerBound + i]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != expected[i] { return false }
        }
        return true
    }

    /// The bytes of a key between its quotes; `nil` when it holds an escape.
    private mutating func scanKeyRange() throws -> Range<Int>? {
        try expect(UInt8(ascii: "\""))
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return start..<(position - 1)
            }
            if byte == UInt8(ascii: "\\") { return nil }
            if byte < 0x20 { throw Malformed(message: "control character in a key at byte \(position)") }
            position += 1
        }
        throw Malformed(message: "unterminated key")
    }

    /// An array of plain strings; `nil` when a string holds an escape (the general way decodes it).
    private mutating func scanStringArray() throws -> [String]? {
        try expect(UInt8(ascii: "["))
        var names: [String] = []
        names.reserveCapacity(bytes.count / 24)
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return names
        }
        while true {
            skipWhitespace()
            try expect(UInt8(ascii: "\""))
            let start = position
            while true {
                guard position < bytes.count else { throw Malformed(message: "unterminated string in NodeNames") }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") { return nil }
                if byte < 0x20 { throw Malformed(message: "control character in NodeNames at byte \(position)") }
                position += 1
            }
            names.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
            position += 1
            skipWhitespace()
            let next = try take()
            if next == UInt8(ascii: "]") { return names }
            guard next == UInt8(ascii: ",") else { throw Malformed(message: "expected ',' or ']' in NodeNames at byte \(position - 1)") }
        }
    }

    /// Skips one JSON value of any kind, checking its structure (the pod's own decoder checks the rest).
    private mutating func skipValue() throws {
        var depth = 0
        repeat {
            skipWhitespace()
            let byte = try take()
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                skipWhitespace()
                if peek() == UInt8(ascii: "}") || peek() == UInt8(ascii: "]") {
                    position += 1  // an empty container: a whole value
                } else {
                    depth += 1
                    continue
                }
            case UInt8(ascii: "\""):
                try skipStringBody()
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
                throw Malformed(message: "unexpected '\(Character(Unicode.Scalar(byte)))' at byte \(position - 1)")
            default:
                // A number or literal: up to the next delimiter.
                while position < bytes.count, !isDelimiter(bytes[position]) { position += 1 }
            }
            // After a value inside a container: a ':' (after a key), ',' or the container's end.
            while depth > 0 {
                skipWhitespace()
                let next = try take()
                if next == UInt8(ascii: ":") || next == UInt8(ascii: ",") { break }
                guard next == UInt8(ascii: "}") || next == UInt8(ascii: "]") else {
                    throw Malformed(message: "unexpected byte at \(position - 1)")
                }
                depth -= 1
            }
        } while depth > 0
    }

    private mutating func skipStringBody() throws {
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") { position += 1 }
        }
        throw Malformed(message: "unterminated string")
    }

    private func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: " "), 0x0A, 0x0D, 0x09: true
        default: false
        }
    }

    private func isNull(at index: Int? = nil) -> Bool {
        let i = index ?? position
        return i + 4 <= bytes.count && bytes[i] == UInt8(ascii: "n") && bytes[i + 1] == UInt8(ascii: "u")
            && bytes[i + 2] == UInt8(ascii: "l") && bytes[i + 3] == UInt8(ascii: "l")
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func take() throws -> UInt8 {
        guard position < bytes.count else { throw Malformed(message: "unexpected end of input") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try take() == byte else {
            throw Malformed(message: "expected '\(Character(Unicode.Scalar(byte)))' at byte \(position - 1)")
        }
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }
}
