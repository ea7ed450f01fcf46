import TesseraPlacement
import TesseraPoolAPI

/// How a controller runs. Defaults suit one machine on loopback.
public struct ControllerConfiguration: Sendable {
    /// Where the HTTP API listens; port 0 picks one (logged as `listening on HOST:PORT`).
    public var host: String
    public var port: Int
    /// The SQLite database holding leases, reservations and node registrations.
    public var statePath: String
    /// Tokens that may do everything (CLI, administrators).
    public var adminTokens: Set<String>
    /// Tokens nodes use to register, heartbeat and ask for leases.
    public var nodeTokens: Set<String>
    /// Tokens scheduler extenders use to read the pool and hold, keep and release reservations.
    public var schedulerTokens: Set<String>
    /// Read-only tokens for monitoring: `/metrics`, the dashboard's views and live stream, nothing that changes.
    public var metricsTokens: Set<String> = []
    /// Teachers' tokens, each scoped to one group (token → group name): they see and manage only that group.
    public var teacherTokens: [String: String] = [:]
    /// Seconds between samples of the dashboard's history ring, and how many samples it keeps (the default:
    /// 6 hours at one sample every 10 s).
    public var historyInterval: Double = 10
    public var historyCapacity: Int = 2160
    public var strategy: PlacementStrategy
    public var timing: PoolState.Timing
    /// How often silent nodes and lapsed reservations are looked for, in seconds.
    public var sweepInterval: Double
    /// HTTPS for the API, and the CA that issues nodes' certificates; nil serves plain HTTP (only with
    /// `--insecure-plaintext`).
    public var tls: ControllerTLS?

    public init(host: String = "127.0.0.1", port: Int = 7080, statePath: String, adminTokens: Set<String>, nodeTokens: Set<String>,
                strategy: PlacementStrategy = .engine(.tessera), timing: PoolState.Timing = PoolState.Timing(), sweepInterval: Double = 0.5,
                schedulerTokens: Set<String> = []) {
        self.host = host; self.port = port; self.statePath = statePath; self.adminTokens = adminTokens
        self.nodeTokens = nodeTokens; self.schedulerTokens = schedulerTokens; self.strategy = strategy; self.timing = timing; self.sweepInterval = sweepInterval
    }
}
