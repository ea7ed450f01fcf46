import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TesseraPoolAPI

/// The pool manager: the pool's state behind a mutex, made durable through a ``LeaseStore`` before any caller
/// hears of a change, and a sweep that finds silent nodes and lapsed reservations. ``ControllerAPI`` serves it
/// over HTTP.
public final class Controller: Service, Sendable {
    public let configuration: ControllerConfiguration
    let store: LeaseStore
    private let state: Mutex<PoolState>
    let logger: Logger
    /// Counts every change to the pool (transitions and heartbeats), so that live views know when to send.
    private let changes = Mutex<UInt64>(0)
    /// The last hours of pool-wide totals, oldest first, bounded by ``ControllerConfiguration/historyCapacity``.
    private let history = Mutex<[PoolSample]>([])
    /// Series that live as long as the controller (the allocation wait histogram; HTTP request metrics when
    /// swift-metrics is bootstrapped onto it), rendered after the pool's own in `/metrics`.
    public let registry = PrometheusCollectorRegistry()
    let allocationWait: DurationHistogram
    /// User tokens, by the hash of their secrets (durable in the store's token table).
    let tokens: Mutex<TokenBook>
    /// Which node token (its SHA-256) each node name is bound to (``admitNode(_:_:)``); in memory: after a
    /// restart each node binds again with its first request.
    let nodeCredentials = Mutex<[String: String]>([:])
    /// Invalid bearer tokens per client host (the API's rate limit).
    let authenticationFailures = AuthenticationFailures()

    /// Opens the durable state and restores the pool from it.
    public init(configuration: ControllerConfiguration, logger: Logger) throws(PoolError) {
        self.configuration = configuration
        self.logger = logger
        store = try LeaseStore(path: configuration.statePath)
        let snapshot = try store.load()
        state = Mutex(try PoolState(strategy: configuration.strategy, timing: configuration.timing, now: Controller.now(),
                                nodes: snapshot.nodes, leases: snapshot.leases, reservations: snapshot.reservations,
                                cordons: snapshot.cordons, groups: snapshot.groups))
        tokens = Mutex(TokenBook(try store.loadTokens()))
        allocationWait = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "tessera_allocation_wait", unitName: "seconds",
                helpText: "Time from an allocation request to its grant, durable (placement and commit), in seconds."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
        logger.info("state \(configuration.statePath): \(snapshot.nodes.count) nodes, \(snapshot.leases.count) leases, \(snapshot.reservations.count) reservations")
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Runs a transition and waits until its changes are durable. Waiting requests that fit after it are
    /// granted in the same transition (a release hands its room to the head of the queue at once).
    public func perform<R: Sendable>(_ body: (inout PoolState, Double) throws(PoolError) -> (R, [PoolState.Change])) async throws -> R {
        defer { changes.withLock { $0 &+= 1 } }
        let (result, ticket) = try state.withLock { (s) throws(PoolError) -> (R, CommitTicket) in
            let now = Controller.now()
            let (r, made) = try body(&s, now)
            var changes = made
            if !s.waiters.isEmpty { changes += s.serveQueue(now: now) }
            return (r, store.enqueue(changes))
        }
        try await ticket.wait()
        return result
    }

    /// How many times the pool changed; live views poll it and send when it moved.
    public var changeCount: UInt64 { changes.withLock { $0 } }

    /// The history ring, oldest first.
    public func samples() -> [PoolSample] { history.withLock { $0 } }

    /// Adds the pool's totals now to the history ring, dropping the oldest beyond its capacity.
    public func recordSample() {
        let sample = read { $0.sample(now: Controller.now()) }
        let capacity = configuration.historyCapacity
        history.withLock { h in
            h.append(sample)
            if h.count > capacity { h.removeFirst(h.count - capacity) }
        }
    }

    /// Usage per user and group since `since` (ended leases from the store, live ones until now).
    public func usage(since: Double, group: String?) throws(PoolError) -> [UsageRow] {
        let records = try store.usageRecords(endingAfter: since, group: group)
        return read { $0.usage(since: since, now: Controller.now(), records: records, group: group) }
    }

    /// The audit log's newest entries, oldest first.
    public func auditLog(limit: Int = 1000) throws(PoolError) -> [AuditEntry] { try store.audit(limit: limit) }

    /// A read of the current state.
    public func read<R: Sendable, E: Error>(_ body: (PoolState) throws(E) -> R) throws(E) -> R {
        try state.withLock { (s) throws(E) -> R in try body(s) }
    }

    /// Sweeps for silent nodes and lapsed reservations until shutdown, then closes the store.
    public func run() async throws {
        await withGracefulShutdownHandler {
            var lastSample = -Double.infinity
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if Controller.now() - lastSample >= configuration.historyInterval {
                    recordSample()
                    lastSample = Controller.now()
                }
                try? await Task.sleep(for: .milliseconds(Int(configuration.sweepInterval * 1000)))
                _ = try? await sweep()
            }
        } onGracefulShutdown: {}
        store.close()
    }

    /// One sweep: nodes silent past the timeout go down and lose their leases; unclaimed reservations lapse.
    @discardableResult
    public func sweep() async throws -> Int {
        try await perform { s, now in
            let changes = s.expire(now: now)
            return (changes.count, changes)
        }
    }
}
