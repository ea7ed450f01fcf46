/// An error of the pool: a small, extensible set of codes plus a message. The controller maps codes to HTTP
/// statuses in one place (``PoolError/Code/httpStatus``); the CLI prints the message as one line.
public struct PoolError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// The request is malformed.
        public static let invalidRequest = Code(rawValue: "invalidRequest")
        /// No valid token, or a token of the wrong kind.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// No such node, lease or reservation.
        public static let notFound = Code(rawValue: "notFound")
        /// The request does not fit the pool now.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The request contradicts the pool's state (a claimed reservation, a node that is down).
        public static let conflict = Code(rawValue: "conflict")
        /// The controller could not be reached or answered nonsense.
        public static let transport = Code(rawValue: "transport")
        /// Durable state could not be read or written.
        public static let storage = Code(rawValue: "storage")
        /// Too many failed authentications from this caller lately; try again later.
        public static let rateLimited = Code(rawValue: "rateLimited")

        /// The HTTP status for this code.
        public var httpStatus: Int {
            switch self {
            case .invalidRequest: 400
            case .unauthorized: 401
            case .notFound: 404
            case .conflict: 409
            case .unavailable: 503
            case .rateLimited: 429
            default: 500
            }
        }
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}
