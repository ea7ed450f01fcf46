/// Prometheus text exposition (format 0.0.4) written straight into one string: the per-scrape series of
/// `PoolMetrics`. A registry object per series cost most of a 1,000-vGPU scrape; here a sample is one appended
/// line. Samples of one family may be added in any order: families are emitted in the order first seen, each
/// with its HELP and TYPE once.
struct MetricsExposition {
    enum Kind: String { case gauge, counter }

    private struct Family {
        var help: String
        var kind: Kind
        var lines: String
    }

    private var order: [String] = []
    private var families: [String: Family] = [:]

    /// Adds one gauge sample.
    mutating func gauge(_ name: String, _ labels: [(String, String)] = [], help: String, _ value: Double) {
        add(name, .gauge, help, labels, value)
    }

    /// Adds one counter sample (`name` ends in `_total`).
    mutating func counter(_ name: String, _ labels: [(String, String)] = [], help: String, _ value: Double) {
        add(name, .counter, help, labels, value)
    }

    /// The exposition text.
    var text: String {
        var out = ""
        out.reserveCapacity(families.values.reduce(0) { $0 + $1.lines.utf8.count } + order.count * 120)
        for name in order {
            let f = families[name]!
            out += "# HELP \(name) \(Self.escapeHelp(f.help))\n# TYPE \(name) \(f.kind.rawValue)\n"
            out += f.lines
        }
        return out
    }

    private mutating func add(_ name: String, _ kind: Kind, _ help: String, _ labels: [(String, String)], _ value: Double) {
        var line = name
        if !labels.isEmpty {
            line += "{"
            for (i, (key, v)) in labels.enumerated() {
                if i > 0 { line += "," }
                line += key
                line += "=\""
                line += Self.escapeLabel(v)
                line += "\""
            }
            line += "}"
        }
        line += " "
        line += Self.format(value)
        line += "\n"
        if families[name] == nil {
            order.append(name)
            families[name] = Family(help: help, kind: kind, lines: "")
        }
        families[name]!.lines += line
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return s }
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed.
    static func escapeHelp(_ s: String) -> String {
        s.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }

    /// Integral values print without a fraction; infinities and NaN as Prometheus spells them.
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
