/// An error of the placement engine, the trace reader or the replay: a small, extensible set of codes plus a
/// human-readable message. Callers map codes to their boundary (HTTP status, exit code) in one place.
public struct PlacementEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A request is malformed: negative resources, a compute share outside 1…1000 milli, and so on.
        public static let invalidRequest = Code("invalidRequest")
        /// A cluster description is inconsistent: duplicate node names, free above capacity, and so on.
        public static let invalidCluster = Code("invalidCluster")
        /// A node name the engine does not know.
        public static let unknownNode = Code("unknownNode")
        /// A placement handed back to ``PlacementEngine/allocate(_:for:)`` no longer fits, or a release
        /// would free more than was allocated.
        public static let conflict = Code("conflict")
        /// A trace file is malformed; the message names the file and line.
        public static let invalidTrace = Code("invalidTrace")
        /// A file could not be read.
        public static let io = Code("io")
        /// An option value is not understood (policy name, seed range).
        public static let invalidArgument = Code("invalidArgument")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
