/// Splits PTX text into tokens: words (identifiers, directives, opcodes with modifiers, registers, numbers),
/// punctuation, and strings. Comments and the line-oriented debug directives (`.loc`, `.file`) are dropped.
struct PTXLexer {
    enum Kind: Equatable, Sendable {
        case word
        case punct
        case string
    }

    struct Token: Sendable {
        var kind: Kind
        var text: String
        var line: Int
    }

    static func tokenize(_ source: String) throws(SimError) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(source.utf8.count / 4)
        let bytes = Array(source.utf8)
        var i = 0
        var line = 1
        let n = bytes.count

        @inline(__always) func isWordByte(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x5F || c == 0x24 || c == 0x25 || c == 0x2E  // _ $ % .
        }

        while i < n {
            let c = bytes[i]
            if c == 0x0A { line += 1; i += 1; continue }
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
            if c == 0x2F, i + 1 < n, bytes[i + 1] == 0x2F {  // //
                while i < n && bytes[i] != 0x0A { i += 1 }
                continue
            }
            if c == 0x2F, i + 1 < n, bytes[i + 1] == 0x2A {  // /* */
                i += 2
                while i + 1 < n && !(bytes[i] == 0x2A && bytes[i + 1] == 0x2F) {
                    if bytes[i] == 0x0A { line += 1 }
                    i += 1
                }
                i += 2
                continue
            }
            if c == 0x22 {  // "string"
                var j = i + 1
                while j < n && bytes[j] != 0x22 { if bytes[j] == 0x0A { line += 1 }; j += 1 }
                tokens.append(Token(kind: .string, text: String(decoding: bytes[(i + 1)..<min(j, n)], as: UTF8.self), line: line))
                i = j + 1
                continue
            }
            if isWordByte(c) {
                var j = i
                while j < n && isWordByte(bytes[j]) { j += 1 }
                let text = String(decoding: bytes[i..<j], as: UTF8.self)
                if text == ".loc" || text == ".file" || text == ".section" {
                    // Debug-info directives carry no semicolon; `.section` blocks are skipped whole.
                    if text == ".section" {
                        var depth = 0
                        while j < n {
                            if bytes[j] == 0x7B { depth += 1 } else if bytes[j] == 0x7D { depth -= 1; if depth == 0 { j += 1; break } }
                            if bytes[j] == 0x0A { line += 1 }
                            j += 1
                        }
                    } else {
                        while j < n && bytes[j] != 0x0A { j += 1 }
                    }
                    i = j
                    continue
                }
                tokens.append(Token(kind: .word, text: text, line: line))
                i = j
                continue
            }
            switch c {
            case 0x2C, 0x3B, 0x3A, 0x7B, 0x7D, 0x5B, 0x5D, 0x28, 0x29, 0x2B, 0x2D, 0x7C, 0x21, 0x40, 0x3C, 0x3E, 0x3D:
                tokens.append(Token(kind: .punct, text: String(UnicodeScalar(c)), line: line))
                i += 1
            default:
                throw SimError(.invalidImage, "PTX line \(line): unexpected character '\(String(UnicodeScalar(c)))'")
            }
        }
        return tokens
    }
}
