/// How a node daemon runs. Defaults serve one simulated GPU on the default unix socket.
public struct NodeConfiguration: Sendable {
    /// Unix socket path for local programs; nil disables it.
    public var socketPath: String?
    /// TCP address for programs on other machines, e.g. ("0.0.0.0", 7070); nil disables it. Port 0 picks one.
    public var listen: (host: String, port: Int)?
    /// Connections waiting to be accepted.
    public var backlog: Int
    /// Paging of idle sessions; nil (the default) never pages.
    public var paging: PagingConfiguration?

    public init(socketPath: String? = NodeConfiguration.defaultSocketPath, listen: (host: String, port: Int)? = nil, backlog: Int = 128,
                paging: PagingConfiguration? = nil) {
        self.paging = paging
        self.socketPath = socketPath
        self.listen = listen
        self.backlog = backlog
    }

    /// Where `tessera node` listens and the runtime connects when nothing else is said (`TESSERA_ENDPOINT`).
    public static let defaultSocketPath = "/tmp/tessera/node.sock"
}
