/// Parses PTX text into a ``ParsedModule``. Malformed input is reported as `.invalidImage` with the line.
struct PTXParser {
    private let tokens: [PTXLexer.Token]
    private var pos = 0
    private var module = ParsedModule()

    static func parse(_ source: String) throws(SimError) -> ParsedModule {
        var p = PTXParser(tokens: try PTXLexer.tokenize(source))
        try p.parseModule()
        return p.module
    }

    private init(tokens: [PTXLexer.Token]) { self.tokens = tokens }

    // MARK: Token helpers

    private var atEnd: Bool { pos >= tokens.count }
    private var peek: PTXLexer.Token? { pos < tokens.count ? tokens[pos] : nil }
    private var line: Int { peek?.line ?? tokens.last?.line ?? 0 }

    private func fail(_ message: String) -> SimError {
        SimError(.invalidImage, "PTX line \(line): \(message)")
    }

    private mutating func next() throws(SimError) -> PTXLexer.Token {
        guard pos < tokens.count else { throw fail("unexpected end of input") }
        defer { pos += 1 }
        return tokens[pos]
    }

    private func isPunct(_ p: String) -> Bool { peek.map { $0.kind == .punct && $0.text == p } ?? false }
    private func isWord(_ w: String) -> Bool { peek.map { $0.kind == .word && $0.text == w } ?? false }

    private mutating func accept(_ p: String) -> Bool {
        if isPunct(p) { pos += 1; return true }
        return false
    }

    private mutating func expect(_ p: String) throws(SimError) {
        guard accept(p) else { throw fail("expected '\(p)', found '\(peek?.text ?? "end of input")'") }
    }

    private mutating func word() throws(SimError) -> String {
        let t = try next()
        guard t.kind == .word else { throw fail("expected a name, found '\(t.text)'") }
        return t.text
    }

    private mutating func integer() throws(SimError) -> Int64 {
        let negative = accept("-")
        let w = try word()
        guard let v = Self.parseInteger(w) else { throw fail("expected an integer, found '\(w)'") }
        return negative ? 0 &- v : v
    }

    static func parseInteger(_ w: String) -> Int64? {
        var s = Substring(w)
        var unsigned = false
        if s.hasSuffix("U") || s.hasSuffix("u") { s = s.dropLast(); unsigned = true }
        _ = unsigned
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            return UInt64(s.dropFirst(2), radix: 16).map { Int64(bitPattern: $0) }
        }
        if s.hasPrefix("0b") || s.hasPrefix("0B") {
            return UInt64(s.dropFirst(2), radix: 2).map { Int64(bitPattern: $0) }
        }
        if s.count > 1, s.hasPrefix("0"), s.allSatisfy({ $0 >= "0" && $0 <= "7" }) {
            return UInt64(s.dropFirst(), radix: 8).map { Int64(bitPattern: $0) }
        }
        if let v = Int64(s) { return v }
        return UInt64(s).map { Int64(bitPattern: $0) }
    }

    /// `0fXXXXXXXX`, `0dXXXXXXXXXXXXXXXX` or a decimal float.
    static func parseFloat(_ w: String) -> (bits: UInt64, width: Int)? {
        if w.count == 10, w.hasPrefix("0f") || w.hasPrefix("0F"), let v = UInt64(w.dropFirst(2), radix: 16) { return (v, 32) }
        if w.count == 18, w.hasPrefix("0d") || w.hasPrefix("0D"), let v = UInt64(w.dropFirst(2), radix: 16) { return (v, 64) }
        if w.contains("."), let d = Double(w) { return (d.bitPattern, 64) }
        return nil
    }

    // MARK: Module

    private mutating func parseModule() throws(SimError) {
        while !atEnd {
            let t = try next()
            guard t.kind == .word else {
                if t.text == ";" { continue }
                throw fail("unexpected '\(t.text)' at module scope")
            }
            switch t.text {
            case ".version":
                let v = try word()
                let parts = v.split(separator: ".")
                guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { throw fail("bad .version \(v)") }
                module.version = major * 10 + minor
            case ".target":
                repeat {
                    let w = try word()
                    if w.hasPrefix("sm_") || w.hasPrefix("compute_") {
                        let digits = w.drop { !$0.isNumber }.prefix { $0.isNumber }
                        if let n = Int(digits) { module.target = max(module.target, n) }
                    }
                } while accept(",")
            case ".address_size":
                module.addressSize = Int(try integer())
                guard module.addressSize == 64 else { throw fail("only 64-bit PTX is supported") }
            case ".visible", ".extern", ".weak", ".common":
                try parseDeclaration(first: t.text)
            case ".global", ".const", ".shared", ".entry", ".func":
                pos -= 1
                try parseDeclaration(first: nil)
            case ".pragma":
                _ = try next()
                try expect(";")
            default:
                throw fail("unexpected '\(t.text)' at module scope")
            }
        }
    }

    private mutating func parseDeclaration(first: String?) throws(SimError) {
        var isExtern = first == ".extern"
        while let t = peek, t.kind == .word, [".visible", ".extern", ".weak", ".common"].contains(t.text) {
            if t.text == ".extern" { isExtern = true }
            pos += 1
        }
        let kind = try word()
        switch kind {
        case ".entry", ".func":
            try parseFunction(isEntry: kind == ".entry")
        case ".global", ".const", ".shared":
            var v = try parseVariable(space: StateSpace(rawValue: String(kind.dropFirst()))!)
            v.isExtern = isExtern
            module.variables.append(v)
        default:
            throw fail("unexpected '\(kind)' in declaration")
        }
    }

    static func typeSize(_ t: String) -> Int? {
        switch t {
        case ".b8", ".u8", ".s8": return 1
        case ".b16", ".u16", ".s16", ".f16", ".bf16": return 2
        case ".b32", ".u32", ".s32", ".f32", ".f16x2", ".bf16x2", ".tf32": return 4
        case ".b64", ".u64", ".s64", ".f64": return 8
        case ".b128": return 16
        case ".pred": return 1
        default: return nil
        }
    }

    /// `[.align N] .type name[N][M] [= init] ;` after the state space.
    private mutating func parseVariable(space: StateSpace) throws(SimError) -> ParsedVariable {
        var alignment = 0
        var typeName = ""
        var vectorWidth = 1
        while let t = peek, t.kind == .word, t.text.hasPrefix(".") {
            pos += 1
            switch t.text {
            case ".align": alignment = Int(try integer())
            case ".v2": vectorWidth = 2
            case ".v4": vectorWidth = 4
            case ".ptr", ".global", ".const", ".shared", ".local": continue
            default:
                if Self.typeSize(t.text) != nil { typeName = t.text } else if t.text.hasPrefix(".attribute") { continue }
                else { throw fail("unexpected '\(t.text)' in variable declaration") }
            }
        }
        guard let elementBytes = Self.typeSize(typeName) else { throw fail("variable without a type") }
        let elementSize = elementBytes * vectorWidth
        let name = try word()
        var count = 1
        var dynamic = false
        while accept("[") {
            if accept("]") { dynamic = true; continue }
            count *= Int(try integer())
            try expect("]")
        }
        var v = ParsedVariable(name: name, space: space, alignment: max(alignment, elementSize), elementSize: elementSize,
                               size: dynamic ? 0 : count * elementSize)
        if dynamic && count > 1 { v.size = 0 }
        if accept("=") {
            var values: [Operand] = []
            try parseInitializer(into: &values)
            if dynamic { v.size = values.count * elementSize }
            var bytes = [UInt8](repeating: 0, count: v.size)
            for (i, value) in values.enumerated() {
                let offset = i * elementBytes
                guard offset + elementBytes <= bytes.count else { throw fail("too many initializers for \(name)") }
                var raw: UInt64
                switch value {
                case .integer(let x): raw = UInt64(bitPattern: x)
                case .float(let bits, let width):
                    if width == 64 && elementBytes == 4 { raw = UInt64(Float(Double(bitPattern: bits)).bitPattern) }
                    else if width == 32 && elementBytes == 8 { raw = Double(Float(bitPattern: UInt32(bits))).bitPattern }
                    else { raw = bits }
                case .symbol(let s):
                    v.addressInitializers.append((offset, s))
                    raw = 0
                default: throw fail("unsupported initializer for \(name)")
                }
                for b in 0..<elementBytes { bytes[offset + b] = UInt8(truncatingIfNeeded: raw >> (8 * UInt64(b))) }
            }
            v.initializer = bytes
        }
        try expect(";")
        return v
    }

    private mutating func parseInitializer(into values: inout [Operand]) throws(SimError) {
        if accept("{") {
            if accept("}") { return }
            repeat { try parseInitializer(into: &values) } while accept(",")
            try expect("}")
            return
        }
        let negative = accept("-")
        let w = try word()
        if let f = Self.parseFloat(w) {
            var bits = f.bits
            if negative { bits ^= f.width == 32 ? 0x8000_0000 : 0x8000_0000_0000_0000 }
            values.append(.float(bits: bits, width: f.width))
        } else if let i = Self.parseInteger(w) {
            values.append(.integer(negative ? 0 &- i : i))
        } else if w == "generic" || w == "global" {
            try expect("(")
            let s = try word()
            try expect(")")
            values.append(.symbol(s))
        } else {
            values.append(.symbol(w))
        }
    }

    private mutating func parseParameterList() throws(SimError) -> [ParsedParameter] {
        var params: [ParsedParameter] = []
        try expect("(")
        if accept(")") { return params }
        repeat {
            let space = try word()
            guard space == ".param" || space == ".reg" else { throw fail("expected .param, found \(space)") }
            let v = try parseVariableNoSemicolon()
            params.append(ParsedParameter(name: v.name, size: v.size, alignment: v.alignment))
        } while accept(",")
        try expect(")")
        return params
    }

    /// A parameter declaration: like a variable but without initializer or semicolon.
    private mutating func parseVariableNoSemicolon() throws(SimError) -> ParsedVariable {
        var alignment = 0
        var typeName = ""
        while let t = peek, t.kind == .word, t.text.hasPrefix(".") {
            pos += 1
            if t.text == ".align" { alignment = Int(try integer()) }
            else if Self.typeSize(t.text) != nil { typeName = t.text }
            else if t.text == ".ptr" || t.text == ".global" || t.text == ".const" || t.text == ".shared" || t.text == ".local" { continue }
            else { throw fail("unexpected '\(t.text)' in parameter") }
        }
        guard let elementSize = Self.typeSize(typeName) else { throw fail("parameter without a type") }
        let name = try word()
        var count = 1
        while accept("[") {
            count *= Int(try integer())
            try expect("]")
        }
        return ParsedVariable(name: name, space: .param, alignment: max(alignment, elementSize), elementSize: elementSize, size: count * elementSize)
    }

    private mutating func parseFunction(isEntry: Bool) throws(SimError) {
        let startLine = line
        var returns: [ParsedParameter] = []
        if !isEntry, isPunct("(") { returns = try parseParameterList() }
        let name = try word()
        var parameters: [ParsedParameter] = []
        if isPunct("(") { parameters = try parseParameterList() }
        var maxThreads: Int?
        // Performance directives.
        while let t = peek, t.kind == .word, t.text.hasPrefix(".") {
            pos += 1
            switch t.text {
            case ".maxntid", ".reqntid":
                var product = 1
                repeat { product *= Int(try integer()) } while accept(",")
                maxThreads = product
            case ".minnctapersm", ".maxnreg", ".maxnctapersm", ".maxclusterrank":
                _ = try integer()
            case ".reqnctapercluster", ".explicitcluster":
                if t.text == ".reqnctapercluster" { repeat { _ = try integer() } while accept(",") }
            case ".noreturn", ".pragma":
                if t.text == ".pragma" { _ = try next(); }
            default:
                throw fail("unexpected '\(t.text)' after function \(name)")
            }
        }
        if accept(";") {
            module.functions.append(ParsedFunction(name: name, isEntry: isEntry, parameters: parameters, returns: returns, body: [], hasBody: false, maxThreadsPerBlock: maxThreads, line: startLine))
            return
        }
        try expect("{")
        var body: [Statement] = []
        var depth = 1
        while depth > 0 {
            guard let t = peek else { throw fail("unterminated body of \(name)") }
            if t.kind == .punct {
                if t.text == "{" { pos += 1; depth += 1; body.append(.blockOpen); continue }
                if t.text == "}" { pos += 1; depth -= 1; if depth > 0 { body.append(.blockClose) }; continue }
                if t.text == ";" { pos += 1; continue }
            }
            try parseStatement(into: &body)
        }
        module.functions.append(ParsedFunction(name: name, isEntry: isEntry, parameters: parameters, returns: returns, body: body, hasBody: true, maxThreadsPerBlock: maxThreads, line: startLine))
    }

    private mutating func parseStatement(into body: inout [Statement]) throws(SimError) {
        let t = peek!
        if t.kind == .word, pos + 1 < tokens.count, tokens[pos + 1].kind == .punct, tokens[pos + 1].text == ":" {
            pos += 2
            body.append(.label(t.text))
            return
        }
        if t.kind == .word, t.text.hasPrefix(".") {
            pos += 1
            // Inline asm may glue the type to the directive: `.reg.b32 f;`.
            let glued = t.text.hasPrefix(".reg.") ? t.text.dropFirst(4).split(separator: ".").map { "." + $0 } : []
            switch glued.isEmpty ? t.text : ".reg" {
            case ".reg":
                var isPredicate = glued.contains(".pred")
                while let m = peek, m.kind == .word, m.text.hasPrefix(".") {
                    pos += 1
                    if m.text == ".pred" { isPredicate = true }
                    if m.text == ".align" { _ = try integer() }
                }
                var names: [String] = []
                repeat {
                    let base = try word()
                    if accept("<") {
                        let n = try integer()
                        try expect(">")
                        guard n >= 0 && n <= 1 << 20 else { throw fail("register range too large") }
                        for k in 0..<Int(n) { names.append("\(base)\(k)") }
                    } else {
                        names.append(base)
                    }
                } while accept(",")
                try expect(";")
                body.append(.registers(names, isPredicate: isPredicate))
            case ".local", ".shared", ".param":
                let v = try parseVariable(space: StateSpace(rawValue: String(t.text.dropFirst()))!)
                body.append(.variable(v))
            case ".pragma":
                _ = try next()
                try expect(";")
            default:
                throw fail("unexpected directive '\(t.text)' in function body")
            }
            return
        }
        body.append(.instruction(try parseInstruction()))
    }

    private mutating func parseInstruction() throws(SimError) -> ParsedInstruction {
        let startLine = line
        var guardName: String?
        var negated = false
        if accept("@") {
            negated = accept("!")
            guardName = try word()
        }
        let full = try word()
        var parts = full.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let opcode = parts.removeFirst()
        var operands: [Operand] = []
        if !isPunct(";") {
            repeat { operands.append(try parseOperand()) } while accept(",")
        }
        try expect(";")
        return ParsedInstruction(guardPredicate: guardName, guardNegated: negated, opcode: opcode, modifiers: parts, operands: operands, line: startLine)
    }

    private mutating func parseOperand() throws(SimError) -> Operand {
        var op = try parseSimpleOperand()
        if accept("|") { op = .pair(op, try parseSimpleOperand()) }
        return op
    }

    private mutating func parseSimpleOperand() throws(SimError) -> Operand {
        if accept("!") { return .negated(try parseSimpleOperand()) }
        if accept("{") {
            var items: [Operand] = []
            if !isPunct("}") { repeat { items.append(try parseSimpleOperand()) } while accept(",") }
            try expect("}")
            return .vector(items)
        }
        if accept("(") {
            var items: [Operand] = []
            if !isPunct(")") { repeat { items.append(try parseOperand()) } while accept(",") }
            try expect(")")
            return .list(items)
        }
        if accept("[") {
            var base: String?
            var offset: Int64 = 0
            if let t = peek, t.kind == .word, Self.parseInteger(t.text) == nil {
                base = try word()
            } else {
                offset = try integer()
            }
            while true {
                if accept("+") { offset &+= try integer() }
                else if accept("-") { offset &-= try integer() }
                else { break }
            }
            try expect("]")
            return .address(base: base, offset: offset)
        }
        let negative = accept("-")
        let w = try word()
        if w == "_" { return .sink }
        if let f = Self.parseFloat(w) {
            var bits = f.bits
            if negative { bits ^= f.width == 32 ? 0x8000_0000 : 0x8000_0000_0000_0000 }
            return .float(bits: bits, width: f.width)
        }
        if let first = w.first, first.isNumber, let i = Self.parseInteger(w) { return .integer(negative ? 0 &- i : i) }
        if negative { throw fail("unexpected '-' before \(w)") }
        if w.hasPrefix("%") { return .register(w) }
        // `name+4` outside brackets (e.g. mov.u64 %rd1, sym+4) is rare; plain symbol otherwise.
        return .symbol(w)
    }
}
