import Foundation
import Logging
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

    /// Opens the durable state and restores the pool from it.
    public init(configuration: ControllerConfiguration, logger: Logger) throws(PoolError) {
        self.configuration = configuration
        self.logger = logger
        store = try LeaseStore(path: configuration.statePath)
        let snapshot = try store.load()
        state = Mutex(try PoolState(strategy: configuration.strategy, timing: configuration.timing, now: Controller.now(),
                                nodes: snapshot.nodes, leases: snapshot.leases, reservations: snapshot.reservations))
        logger.info("state \(configuration.statePath): \(snapshot.nodes.count) nodes, \(snapshot.leases.count) leases, \(snapshot.reservations.count) reservations")
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Runs a transition and waits until its changes are durable.
    public func perform<R: Sendable>(_ body: (inout PoolState, Double) throws(PoolError) -> (R, [PoolState.Change])) async throws -> R {
        let (result, ticket) = try state.withLock { (s) throws(PoolError) -> (R, CommitTicket) in
            let (r, changes) = try body(&s, Controller.now())
            return (r, store.enqueue(changes))
        }
        try await ticket.wait()
        return result
    }

    /// A read of the current state.
    public func read<R: Sendable, E: Error>(_ body: (PoolState) throws(E) -> R) throws(E) -> R {
        try state.withLock { (s) throws(E) -> R in try body(s) }
    }

    /// Sweeps for silent nodes and lapsed reservations until shutdown, then closes the store.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
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
