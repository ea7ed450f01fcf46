import Hummingbird

/// A request to the controller's API with who sent it, once ``ControllerAPI``'s middleware has read its token.
public struct ControllerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's role from its bearer token; nil until the token is read.
    public var caller: Caller?
    /// The group a teacher's token is scoped to; nil for every other caller.
    public var teacherGroup: String?

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// Who may call what: admin tokens may do everything, node tokens only what nodes do (register, heartbeat, ask
/// for and end leases), scheduler tokens only what a scheduler extender does (read the pool, hold and release
/// reservations), metrics tokens only reads (`/metrics`, the dashboard's views), teacher tokens only their own
/// group (its definition within the quota an admin set, its queue and its usage).
public enum Caller: String, Sendable, Hashable {
    case admin, node, scheduler, metrics, teacher
}
