import Foundation
import GRDB
import Synchronization
import TesseraPoolAPI

/// The controller's durable state in SQLite: node registrations, leases and reservations, each a JSON document
/// keyed by name or id. Every change is durable (WAL, `synchronous = FULL`) before its caller hears back;
/// concurrent changes share one transaction and one fsync (group commit) on the store's writer thread.
public final class LeaseStore: Sendable {
    /// What a restarted controller starts from.
    public struct Snapshot: Sendable {
        public var nodes: [NodeRegistration]
        public var leases: [Lease]
        public var reservations: [Reservation]
        /// Cordoned nodes and GPUs (`NODE`, `NODE/INDEX`).
        public var cordons: [String] = []
        public var groups: [GroupDefinition] = []
    }

    let database: DatabasePool
    private struct Queue {
        var pending: [(changes: [PoolState.Change], ticket: CommitTicket)] = []
        var stopped = false
    }
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws(PoolError) {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            database = try DatabasePool(path: path, configuration: configuration)
            try LeaseStore.migrator.migrate(database)
        } catch {
            throw PoolError(.storage, "cannot open controller state \(path): \(error)")
        }
        let thread = Thread { [self] in writeLoop() }
        thread.name = "tessera-store"
        thread.start()
    }

    /// Schema migrations, from the first release on; never edit a shipped one, add the next.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: nodes, leases, reservations") { db in
            try db.execute(sql: """
                CREATE TABLE node (name TEXT PRIMARY KEY NOT NULL, document BLOB NOT NULL);
                CREATE TABLE lease (id TEXT PRIMARY KEY NOT NULL, document BLOB NOT NULL);
                CREATE TABLE reservation (id TEXT PRIMARY KEY NOT NULL, document BLOB NOT NULL);
                """)
        }
        m.registerMigration("v2: cordons and the audit log") { db in
            try db.execute(sql: """
                CREATE TABLE cordon (target TEXT PRIMARY KEY NOT NULL);
                CREATE TABLE audit (sequence INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, document BLOB NOT NULL);
                """)
        }
        registerTokenMigration(&m)
        m.registerMigration("v3-groups: groups and usage records") { db in
            try db.execute(sql: """
                CREATE TABLE pool_group (name TEXT PRIMARY KEY NOT NULL, document BLOB NOT NULL);
                CREATE TABLE usage_record (lease TEXT PRIMARY KEY NOT NULL, grp TEXT NOT NULL, end_time REAL NOT NULL, document BLOB NOT NULL);
                CREATE INDEX usage_record_end ON usage_record (end_time);
                """)
        }
        return m
    }

    /// The newest `limit` audit entries, oldest first.
    public func audit(limit: Int = 1000) throws(PoolError) -> [AuditEntry] {
        do {
            return try database.read { db in
                let decoder = JSONDecoder()
                return try Data.fetchAll(db, sql: "SELECT document FROM audit ORDER BY sequence DESC LIMIT ?", arguments: [limit])
                    .map { try decoder.decode(AuditEntry.self, from: $0) }.reversed()
            }
        } catch {
            throw PoolError(.storage, "cannot read the audit log: \(error)")
        }
    }

    /// Usage records of leases that ended after `since`, optionally of one group.
    public func usageRecords(endingAfter since: Double, group: String? = nil) throws(PoolError) -> [UsageRecord] {
        do {
            return try database.read { db in
                let decoder = JSONDecoder()
                let rows = if let group {
                    try Data.fetchAll(db, sql: "SELECT document FROM usage_record WHERE end_time > ? AND grp = ?", arguments: [since, group])
                } else {
                    try Data.fetchAll(db, sql: "SELECT document FROM usage_record WHERE end_time > ?", arguments: [since])
                }
                return try rows.map { try decoder.decode(UsageRecord.self, from: $0) }
            }
        } catch {
            throw PoolError(.storage, "cannot read usage records: \(error)")
        }
    }

    /// Everything stored.
    public func load() throws(PoolError) -> Snapshot {
        do {
            return try database.read { db in
                let decoder = JSONDecoder()
                func all<T: Decodable>(_ table: String, _ type: T.Type) throws -> [T] {
                    try Data.fetchAll(db, sql: "SELECT document FROM \(table)").map { try decoder.decode(T.self, from: $0) }
                }
                return Snapshot(nodes: try all("node", NodeRegistration.self), leases: try all("lease", Lease.self),
                                reservations: try all("reservation", Reservation.self),
                                cordons: try String.fetchAll(db, sql: "SELECT target FROM cordon ORDER BY target"),
                                groups: try all("pool_group", GroupDefinition.self))
            }
        } catch {
            throw PoolError(.storage, "cannot read controller state: \(error)")
        }
    }

    /// Queues changes in order; the ticket completes once they are on disk.
    public func enqueue(_ changes: [PoolState.Change]) -> CommitTicket {
        let ticket = CommitTicket()
        if changes.isEmpty { ticket.complete(nil); return ticket }
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopped else { return false }
            q.pending.append((changes, ticket))
            return true
        }
        if accepted { wake.signal() } else { ticket.complete(PoolError(.storage, "the store is closed")) }
        return ticket
    }

    /// Writes what is queued and stops the writer thread.
    public func close() {
        let first = queue.withLock { q -> Bool in
            defer { q.stopped = true }
            return !q.stopped
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    private func writeLoop() {
        let encoder = JSONEncoder()
        while true {
            wake.wait()
            let (batch, stopped) = queue.withLock { q in
                defer { q.pending = [] }
                return (q.pending, q.stopped)
            }
            if !batch.isEmpty {
                var failure: (any Error)?
                do {
                    try database.write { db in
                        for (changes, _) in batch {
                            for change in changes { try apply(change, db, encoder) }
                        }
                    }
                } catch {
                    failure = PoolError(.storage, "cannot write controller state: \(error)")
                }
                for (_, ticket) in batch { ticket.complete(failure) }
            }
            if stopped && queue.withLock({ $0.pending.isEmpty }) { break }
        }
        finished.signal()
    }

    private func apply(_ change: PoolState.Change, _ db: Database, _ encoder: JSONEncoder) throws {
        switch change {
        case .putNode(let n):
            try db.execute(sql: "INSERT OR REPLACE INTO node (name, document) VALUES (?, ?)", arguments: [n.name, try encoder.encode(n)])
        case .putLease(let l):
            try db.execute(sql: "INSERT OR REPLACE INTO lease (id, document) VALUES (?, ?)", arguments: [l.id, try encoder.encode(l)])
        case .deleteLease(let id):
            try db.execute(sql: "DELETE FROM lease WHERE id = ?", arguments: [id])
        case .putReservation(let r):
            try db.execute(sql: "INSERT OR REPLACE INTO reservation (id, document) VALUES (?, ?)", arguments: [r.id, try encoder.encode(r)])
        case .deleteReservation(let id):
            try db.execute(sql: "DELETE FROM reservation WHERE id = ?", arguments: [id])
        case .putCordon(let target):
            try db.execute(sql: "INSERT OR REPLACE INTO cordon (target) VALUES (?)", arguments: [target])
        case .deleteCordon(let target):
            try db.execute(sql: "DELETE FROM cordon WHERE target = ?", arguments: [target])
        case .audit(let entry):
            try db.execute(sql: "INSERT INTO audit (time, document) VALUES (?, ?)", arguments: [entry.time, try encoder.encode(entry)])
        case .putGroup(let g):
            try db.execute(sql: "INSERT OR REPLACE INTO pool_group (name, document) VALUES (?, ?)", arguments: [g.name, try encoder.encode(g)])
        case .deleteGroup(let name):
            try db.execute(sql: "DELETE FROM pool_group WHERE name = ?", arguments: [name])
        case .recordUsage(let u):
            try db.execute(sql: "INSERT OR REPLACE INTO usage_record (lease, grp, end_time, document) VALUES (?, ?, ?, ?)",
                           arguments: [u.lease, u.group, u.end, try encoder.encode(u)])
        }
    }
}

/// Completes once a batch of changes is durable (or failed to be written).
public final class CommitTicket: Sendable {
    private struct State {
        var result: Result<Void, PoolError>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = Mutex(State())

    func complete(_ error: (any Error)?) {
        let result: Result<Void, PoolError> = error.map { .failure(($0 as? PoolError) ?? PoolError(.storage, "\($0)")) } ?? .success(())
        let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result.mapError { $0 as any Error })
    }

    /// Waits until the changes are on disk; throws a `storage` error when they could not be written.
    public func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let done = state.withLock { s -> Result<Void, PoolError>? in
                if s.result == nil { s.waiter = c }
                return s.result
            }
            if let done { c.resume(with: done.mapError { $0 as any Error }) }
        }
    }
}
