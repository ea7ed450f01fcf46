/// The outcome of a request as the node reports it: a code from a small extensible set and a message.
/// The runtime maps codes to `cudaError_t` in one place.
public struct ReplyStatus: Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let invalidValue = Code(rawValue: 1)
        public static let outOfMemory = Code(rawValue: 2)
        /// Sticky: a kernel touched memory outside the session's allocations.
        public static let illegalAddress = Code(rawValue: 3)
        /// Sticky: a kernel trapped or failed.
        public static let launchFailure = Code(rawValue: 4)
        public static let invalidConfiguration = Code(rawValue: 5)
        public static let invalidImage = Code(rawValue: 6)
        public static let noKernelImage = Code(rawValue: 7)
        public static let notSupported = Code(rawValue: 8)
        /// A kernel or symbol name the module does not define.
        public static let notFound = Code(rawValue: 9)
        public static let invalidHandle = Code(rawValue: 10)
        public static let notReady = Code(rawValue: 11)
        public static let invalidDevice = Code(rawValue: 12)
        /// The node cannot grant the vGPUs asked for (they do not fit, or no GPU is there).
        public static let unavailable = Code(rawValue: 13)
        /// The peer broke the protocol; the session ends.
        public static let protocolError = Code(rawValue: 14)
        public static let internalError = Code(rawValue: 15)
        /// Sticky: a kernel's device-side `assert` failed.
        public static let assertFailed = Code(rawValue: 16)
        /// A cooperative launch has more blocks than the device can keep resident at once.
        public static let cooperativeLaunchTooLarge = Code(rawValue: 17)
        /// The session did not prove who it is (no, a wrong, an expired or a revoked token or attach
        /// credential), or failed to too often; the message says what to present.
        public static let unauthenticated = Code(rawValue: 18)

        public var description: String {
            switch self {
            case .ok: "ok"
            case .invalidValue: "invalidValue"
            case .outOfMemory: "outOfMemory"
            case .illegalAddress: "illegalAddress"
            case .launchFailure: "launchFailure"
            case .invalidConfiguration: "invalidConfiguration"
            case .invalidImage: "invalidImage"
            case .noKernelImage: "noKernelImage"
            case .notSupported: "notSupported"
            case .notFound: "notFound"
            case .invalidHandle: "invalidHandle"
            case .notReady: "notReady"
            case .invalidDevice: "invalidDevice"
            case .unavailable: "unavailable"
            case .protocolError: "protocolError"
            case .internalError: "internalError"
            case .assertFailed: "assertFailed"
            case .cooperativeLaunchTooLarge: "cooperativeLaunchTooLarge"
            case .unauthenticated: "unauthenticated"
            default: "status(\(rawValue))"
            }
        }

        /// Whether the error poisons the vGPU's context for the rest of the session, as CUDA's do.
        public var isSticky: Bool { self == .illegalAddress || self == .launchFailure || self == .assertFailed }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = ReplyStatus(.ok)
    public var isOK: Bool { code == .ok }
    public var description: String { message.isEmpty ? code.description : "\(code): \(message)" }

    public func encode(into w: inout WireWriter) {
        w.u16(code.rawValue)
        w.string(message)
    }

    public init(from r: inout WireReader) throws(WireError) {
        code = Code(rawValue: try r.u16())
        message = try r.string()
    }
}

/// The start of every reply body: the request's own outcome, then the first failure of pipelined requests
/// since the previous reply (``ReplyStatus/ok`` when there was none). Message-specific fields follow.
public struct ReplyHeader: Sendable, Hashable {
    public var status: ReplyStatus
    public var deferred: ReplyStatus

    public init(status: ReplyStatus = .ok, deferred: ReplyStatus = .ok) {
        self.status = status
        self.deferred = deferred
    }

    public func encode(into w: inout WireWriter) {
        status.encode(into: &w)
        deferred.encode(into: &w)
    }

    public init(from r: inout WireReader) throws(WireError) {
        status = try ReplyStatus(from: &r)
        deferred = try ReplyStatus(from: &r)
    }
}
