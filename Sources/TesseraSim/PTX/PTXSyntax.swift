/// The parsed form of a PTX module: declarations and statements, before linking into a ``Program``.

/// A PTX state space.
enum StateSpace: String, Sendable {
    case global, const, shared, local, param, generic
}

/// A module-scope or function-scope variable (`.global`, `.const`, `.shared`, `.local`, `.param`).
struct ParsedVariable: Sendable {
    var name: String
    var space: StateSpace
    var alignment: Int
    /// Element size in bytes.
    var elementSize: Int
    /// Total size in bytes (0 for `extern .shared` arrays: dynamic shared memory).
    var size: Int
    var initializer: [UInt8] = []
    /// Byte offsets in the initializer that hold the address of another variable.
    var addressInitializers: [(Int, String)] = []
    var isExtern = false
}

/// An operand as written.
indirect enum Operand: Sendable, Equatable {
    case register(String)
    case integer(Int64)
    /// Raw IEEE bits of a `0f…`/`0d…` literal or decimal float, with its width in bits.
    case float(bits: UInt64, width: Int)
    /// A bare name: label, variable or function.
    case symbol(String)
    /// `[base+offset]`; base is a register or a symbol name (or nil for an absolute address).
    case address(base: String?, offset: Int64)
    /// `{a, b, …}` vector.
    case vector([Operand])
    /// `(a, b, …)` list in a call.
    case list([Operand])
    /// `a|b` pair (e.g. `shfl` with a predicate destination).
    case pair(Operand, Operand)
    /// `!%p`.
    case negated(Operand)
    /// `_` sink.
    case sink
}

/// One instruction as written.
struct ParsedInstruction: Sendable {
    var guardPredicate: String?
    var guardNegated = false
    var opcode: String
    var modifiers: [String]
    var operands: [Operand]
    var line: Int

    var text: String { ([opcode] + modifiers).joined(separator: ".") }
}

/// A statement in a function body.
enum Statement: Sendable {
    case label(String)
    case instruction(ParsedInstruction)
    /// `.reg` declarations: names and whether they are predicates.
    case registers([String], isPredicate: Bool)
    /// A function-scope `.local`, `.shared` or `.param` variable.
    case variable(ParsedVariable)
    case blockOpen
    case blockClose
}

/// A kernel parameter or function parameter/return value declaration.
struct ParsedParameter: Sendable {
    var name: String
    var size: Int
    var alignment: Int
}

/// An `.entry` or `.func`.
struct ParsedFunction: Sendable {
    var name: String
    var isEntry: Bool
    var parameters: [ParsedParameter]
    var returns: [ParsedParameter]
    var body: [Statement]
    var hasBody: Bool
    var maxThreadsPerBlock: Int?
    var line: Int
}

/// A whole PTX module.
struct ParsedModule: Sendable {
    /// `.version` × 10, e.g. 95.
    var version: Int = 0
    /// `.target` SM number, e.g. 75.
    var target: Int = 0
    var addressSize: Int = 64
    var variables: [ParsedVariable] = []
    var functions: [ParsedFunction] = []

    func function(named name: String) -> ParsedFunction? {
        functions.first { $0.name == name && $0.hasBody }
    }
}
