/// A frame or message that does not follow the protocol. A node that sees one ends that session.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of violation this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The frame or message ends before all its fields.
        public static let truncated = Code("truncated")
        /// A field holds a value the protocol does not allow (unknown opcode, oversized length, bad enum).
        public static let malformed = Code("malformed")
        /// The peer speaks another protocol version or is not a Tessera peer at all.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The frame is valid but not allowed at this point of the conversation.
        public static let unexpected = Code("unexpected")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
