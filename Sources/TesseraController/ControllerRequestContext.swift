import Hummingbird
import NIOCore

/// A request to the controller's API with who sent it, once ``ControllerAPI``'s middleware has read its token.
public struct ControllerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's role from its bearer token; nil until the token is read.
    public var caller: Caller?
    /// The SHA-256 of the bearer token, once read: which node credential a node's request came with, so a
    /// node token acts only for the nodes that registered with it.
    public var credential: String?

    /// The client's IP address, for rate-limiting failed token checks; nil when unknown.
    public var clientHost: String?

    /// The group a teacher's token is scoped to; nil for every other caller.
    public var teacherGroup: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        clientHost = source.channel.remoteAddress?.ipAddress
    }
}

/// Who may call what: admin tokens may do everything, node tokens only what nodes do (register, heartbeat, ask
/// for and end leases), scheduler tokens only what a scheduler extender does (read the pool, hold and release
/// reservations), metrics tokens only reads (`/metrics`, the dashboard's views), teacher tokens only their own
/// group (its definition within the quota an admin set, its queue and its usage).
public enum Caller: String, Sendable, Hashable {
    case admin, node, scheduler, metrics, teacher
}
