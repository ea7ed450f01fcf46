/// An error of the Kubernetes integration: a small, extensible set of codes plus a message for people.
/// The HTTP boundary maps codes to statuses in one place (``KubernetesError/Code/httpStatus``).
public struct KubernetesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A request is malformed: bad JSON, a quantity that is not a number, a missing field.
        public static let invalidRequest = Code("invalidRequest")
        /// A pod, node or reservation does not exist.
        public static let notFound = Code("notFound")
        /// The request contradicts the current state: the capacity is gone, the pod's UID changed.
        public static let conflict = Code("conflict")
        /// The Kubernetes API or the controller answered with an error or could not be reached.
        public static let upstream = Code("upstream")
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

extension KubernetesError.Code {
    /// The HTTP status this code maps to at the boundary.
    public var httpStatus: Int {
        switch self {
        case .invalidRequest: 400
        case .notFound: 404
        case .conflict: 409
        default: 502
        }
    }
}
