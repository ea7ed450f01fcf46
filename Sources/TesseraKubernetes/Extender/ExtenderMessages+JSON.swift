extension ExtenderArgs {
    /// Decodes kube-scheduler's JSON: the same result as `JSONDecoder`, several times faster for long
    /// `NodeNames` lists (the node-cache-capable case, on every pod's filter and prioritize). Throws
    /// ``KubernetesError/Code/invalidRequest`` with the reason when the body is not valid.
    public init(json body: some Collection<UInt8>) throws(KubernetesError) {
        self = try ExtenderArgsScanner.decode(body)
    }
}

/// Hand-written JSON for the two responses kube-scheduler waits on for every pod (prioritize scores and a
/// name-only filter result): with 1,000+ nodes, Foundation's keyed encoder dominates the extender's latency.
extension HostPriority {
    /// `[{"Host":"n1","Score":7},…]`, the same bytes' meaning as `JSONEncoder`'s output.
    public static func json(_ priorities: [HostPriority]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(priorities.count * 40 + 2)
        out.append(UInt8(ascii: "["))
        for (i, priority) in priorities.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: hostKey)
            appendJSONString(priority.host, to: &out)
            out.append(contentsOf: scoreKey)
            if (0...9).contains(priority.score) {
                out.append(UInt8(ascii: "0") + UInt8(priority.score))  // scores are 0…10: no String per node
            } else {
                out.append(contentsOf: String(priority.score).utf8)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}

extension ExtenderFilterResult {
    /// The result as JSON; by hand when it carries names only, otherwise through `encode`.
    public func json() throws -> [UInt8] {
        guard nodes == nil || nodes == .null, let nodeNames else { return Array(try JSONEncoderBox.encode(self)) }
        var out: [UInt8] = []
        out.reserveCapacity(nodeNames.count * 20 + 128)
        out.append(contentsOf: #"{"Nodes":null,"NodeNames":["#.utf8)
        for (i, name) in nodeNames.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(name, to: &out)
        }
        out.append(contentsOf: #"],"FailedNodes":"#.utf8)
        appendJSONObject(failedNodes, to: &out)
        out.append(contentsOf: #","FailedAndUnresolvableNodes":"#.utf8)
        appendJSONObject(failedAndUnresolvableNodes, to: &out)
        out.append(contentsOf: #","Error":"#.utf8)
        appendJSONString(error, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

private let hostKey = Array(#"{"Host":"#.utf8)
private let scoreKey = Array(#","Score":"#.utf8)

private func appendJSONObject(_ members: [String: String], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "{"))
    var first = true
    // In the dictionary's order: JSON objects are unordered, and sorting 1,000 reasons costs more than the rest.
    for (key, value) in members {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        appendJSONString(key, to: &out)
        out.append(UInt8(ascii: ":"))
        appendJSONString(value, to: &out)
    }
    out.append(UInt8(ascii: "}"))
}

/// Appends `text` as a JSON string literal, escaping quotes, backslashes and control characters.
func appendJSONString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    // Node names and reasons need no escapes as a rule: copy them whole.
    let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
        for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
        out.append(contentsOf: bytes)
        return true
    }
    if copied == true {
        out.append(UInt8(ascii: "\""))
        return
    }
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
        case 0x0A: out.append(contentsOf: #"\n"#.utf8)
        case 0x0D: out.append(contentsOf: #"\r"#.utf8)
        case 0x09: out.append(contentsOf: #"\t"#.utf8)
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: #"\u00"#.utf8)
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}
