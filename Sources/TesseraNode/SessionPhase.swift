import TesseraWire

/// The phases of a session and which frames each allows. Pure, so it is tested without sockets.
///
///     greeting ──hello accepted──▶ serving ──hangup / violation / node stop──▶ closed
///        │                                                                      ▲
///        └────────── hello refused, status answered, violation, hangup ─────────┘
public enum SessionPhase: Sendable, Hashable {
    /// Waiting for ``Hello`` (or a one-off ``NodeStatusRequest``).
    case greeting
    /// Holding vGPUs, executing requests.
    case serving
    /// Finished; everything is released.
    case closed

    /// What the session does with a frame of `opcode` in this phase.
    public enum Action: Sendable, Hashable {
        case greet
        case answerStatus
        /// Page the caller's sessions out (`%tessera release`); like a status request, it ends a greeting-phase connection.
        case pageOutSessions
        case execute
        /// A protocol violation: the session ends with this message.
        case reject(String)
    }

    public func action(for opcode: Opcode) -> Action {
        switch (self, opcode) {
        case (_, _) where !opcode.isRequest: return .reject("\(opcode) frames travel from node to client only")
        case (.closed, _): return .reject("session is closed")
        case (_, .nodeStatus): return .answerStatus
        case (.greeting, .pageOutSessions): return .pageOutSessions
        case (.serving, .pageOutSessions): return .reject("pageOutSessions is a request of its own connection")
        case (.greeting, .hello): return .greet
        case (.greeting, _): return .reject("the first frame must be hello, got \(opcode)")
        case (.serving, .hello): return .reject("hello sent twice")
        case (.serving, _): return .execute
        }
    }

    /// The phase after the greeting: serving when vGPUs were granted, closed when refused.
    public func greeted(accepted: Bool) -> SessionPhase {
        guard self == .greeting else { return .closed }
        return accepted ? .serving : .closed
    }
}
