import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import TesseraDevice
import TesseraWire

/// Pages idle sessions' device memory out when a request does not fit, and back in at the same addresses when
/// their next request comes. A session is paged out only between requests, with no work in flight, after
/// `idleAfter` without a request; least recently active first.
///
///     resident ──room needed, idle──▶ pagingOut ──▶ paged ──next request──▶ pagingIn ──▶ resident
///                                                    ▲                          │
///                                                    └──── no room yet (waits) ─┘
final class Pager: Sendable {
    let idleAfterNanoseconds: UInt64
    let store: NodePageStore
    let backend: any DeviceBackend
    let logger: Logger

    struct Entry {
        let session: Session
        var lastActive: UInt64
        var inRequest = false
        var state = SessionPagingStatus.State.resident
        var stats = SessionPagingStatus()
        var waitStarted: UInt64?
    }
    struct State {
        var entries: [UInt64: Entry] = [:]
        /// Totals of ended sessions too, for the node's metrics.
        var totals = PagingTotals()
    }
    private let state = Mutex(State())

    init(configuration: PagingConfiguration, backend: any DeviceBackend, logger: Logger) {
        idleAfterNanoseconds = UInt64(max(0, configuration.idleAfterSeconds) * 1e9)
        store = NodePageStore(files: configuration.files)
        self.backend = backend
        self.logger = logger
    }

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    // MARK: Sessions

    func register(_ session: Session) {
        state.withLock { $0.entries[session.id] = Entry(session: session, lastActive: Self.now) }
    }

    func unregister(_ session: Session) {
        state.withLock { $0.entries[session.id] = nil }
    }

    /// Called before each request of `session`: waits out a page-out under way and pages the session in when
    /// it is paged (waiting for room if needed). Throws only when the session ends meanwhile.
    func beginRequest(_ session: Session) throws(DeviceError) {
        enum Next { case go, wait, pageIn }
        while true {
            let next = state.withLock { s -> Next in
                guard var e = s.entries[session.id] else { return .go }
                defer { s.entries[session.id] = e }
                switch e.state {
                case .resident:
                    e.inRequest = true
                    return .go
                case .pagingOut, .pagingIn, .waitingForRoom: return .wait
                case .paged:
                    e.state = .pagingIn
                    return .pageIn
                }
            }
            switch next {
            case .go: return
            case .wait:
                if session.shared.withLock({ $0.aborted }) { throw DeviceError(.unavailable, "the session ended") }
                usleep(1000)
            case .pageIn:
                try pageIn(session)
                return
            }
        }
    }

    /// Called after each request.
    func endRequest(_ session: Session) {
        state.withLock { s in
            s.entries[session.id]?.inRequest = false
            s.entries[session.id]?.lastActive = Self.now
        }
    }

    // MARK: Making room

    /// Pages out idle sessions holding memory on `gpu`, least recently active first, until `bytes` are free
    /// there. Returns whether they are.
    func makeRoom(gpu: Int, bytes: Int, excluding: UInt64?) -> Bool {
        var skipped: Set<UInt64> = []
        while true {
            if free(gpu: gpu) >= bytes { return true }
            let now = Self.now
            let candidate = state.withLock { s -> Session? in
                let idle = s.entries.values.filter { e in
                    e.session.id != excluding && !skipped.contains(e.session.id) && e.state == .resident && !e.inRequest
                        && now &- e.lastActive >= idleAfterNanoseconds
                }
                let holding = idle.filter { e in
                    let contexts = e.session.shared.withLock { $0.vgpus.map { ($0.physical, $0.context) } }
                    return contexts.contains { $0.0 == gpu && $0.1.residentBytes > 0 } && !contexts.contains { $0.1.hasWorkInFlight }
                }
                guard let oldest = holding.min(by: { $0.lastActive < $1.lastActive }) else { return nil }
                s.entries[oldest.session.id]?.state = .pagingOut
                return oldest.session
            }
            guard let candidate else { return false }
            if !pageOut(candidate, reason: "GPU \(gpu) needs \(bytes >> 20) MiB") { skipped.insert(candidate.id) }
        }
    }

    /// Bytes of a GPU no context holds now.
    func free(gpu: Int) -> Int {
        guard let g = backend.gpus.first(where: { $0.index == gpu }) else { return 0 }
        return g.totalMemory - backend.memoryUsed(gpu: gpu)
    }

    /// Device memory of `gpu` that idle sessions other than `excluding` could give back now.
    func reclaimable(gpu: Int, excluding: UInt64?) -> Int {
        let now = Self.now
        let sessions = state.withLock { s in
            s.entries.values.filter { e in
                e.session.id != excluding && e.state == .resident && !e.inRequest && now &- e.lastActive >= idleAfterNanoseconds
            }.map(\.session)
        }
        var total = 0
        for session in sessions {
            let contexts = session.shared.withLock { $0.vgpus.map { ($0.physical, $0.context) } }
            if contexts.contains(where: { $0.1.hasWorkInFlight }) { continue }
            total += contexts.filter { $0.0 == gpu }.reduce(0) { $0 + $1.1.residentBytes }
        }
        return total
    }

    // MARK: Moving memory

    /// Pages every context of a session marked `pagingOut` out. Returns whether the session is now paged.
    @discardableResult
    private func pageOut(_ session: Session, reason: String) -> Bool {
        let contexts = session.shared.withLock { $0.vgpus.map(\.context) }
        var moved = 0
        var nanoseconds: UInt64 = 0
        var failure: DeviceError?
        for c in contexts where !c.isPagedOut {
            do throws(DeviceError) {
                let t = try c.pageOut(to: store)
                moved += t.bytes
                nanoseconds += t.nanoseconds
            } catch {
                failure = error
                break
            }
        }
        let paged = contexts.contains { $0.isPagedOut } || (failure == nil && moved == 0)
        state.withLock { s in
            guard var e = s.entries[session.id] else { return }
            defer { s.entries[session.id] = e }
            e.state = paged ? .paged : .resident
            guard paged else { return }
            e.stats.pageOuts += 1
            e.stats.lastPageOutNanoseconds = nanoseconds
            e.stats.pageOutNanoseconds &+= nanoseconds
            e.stats.pagedOutBytes &+= UInt64(moved)
            s.totals.pageOuts += 1
            s.totals.pagedOutBytes &+= UInt64(moved)
            s.totals.pageOutNanoseconds &+= nanoseconds
        }
        if let failure {
            logger.warning("page-out failed", metadata: ["session": "\(session.id)", "error": "\(failure)"])
        } else {
            logger.info("paged out", metadata: [
                "session": "\(session.id)", "bytes": "\(moved)", "ms": "\(Double(nanoseconds) / 1e6)", "why": "\(reason)",
            ])
        }
        return paged
    }

    /// Pages a session marked `pagingIn` back in, making room (or waiting for it) first.
    private func pageIn(_ session: Session) throws(DeviceError) {
        let start = Self.now
        var moved = 0
        var copyNanoseconds: UInt64 = 0
        var announced = false
        while true {
            if session.shared.withLock({ $0.aborted }) {
                state.withLock { $0.entries[session.id]?.state = .paged }
                throw DeviceError(.unavailable, "the session ended")
            }
            let contexts = session.shared.withLock { $0.vgpus.map { ($0.physical, $0.context) } }
            var waiting = false
            // All or nothing: a session with vGPUs on several GPUs comes back only when every one of them has room,
            // so two such sessions never each hold one GPU while waiting for the other's.
            var neededByGPU: [Int: Int] = [:]
            for (gpu, c) in contexts where c.isPagedOut { neededByGPU[gpu, default: 0] += c.pagedOutBytes }
            for (gpu, needed) in neededByGPU where free(gpu: gpu) < needed {
                _ = makeRoom(gpu: gpu, bytes: needed, excluding: session.id)
            }
            let everyGPUHasRoom = neededByGPU.allSatisfy { free(gpu: $0.key) >= $0.value }
            for (_, c) in contexts where c.isPagedOut && everyGPUHasRoom {
                do throws(DeviceError) {
                    let t = try c.pageIn()
                    moved += t.bytes
                    copyNanoseconds += t.nanoseconds
                } catch let error where error.code == .outOfMemory {
                    _ = error
                    waiting = true
                } catch {
                    // The copy is lost: the session cannot go on; its requests fail as after a device fault.
                    state.withLock { $0.entries[session.id]?.state = .paged }
                    logger.error("page-in failed", metadata: ["session": "\(session.id)", "error": "\(error)"])
                    throw error
                }
            }
            if !everyGPUHasRoom { waiting = true }
            guard waiting else { break }
            if !announced {
                announced = true
                logger.info("page-in waits for room", metadata: ["session": "\(session.id)"])
                state.withLock { $0.entries[session.id]?.state = .waitingForRoom }
            }
            usleep(10_000)
        }
        let elapsed = Self.now - start
        state.withLock { s in
            guard var e = s.entries[session.id] else { return }
            defer { s.entries[session.id] = e }
            e.state = .resident
            e.inRequest = true
            e.stats.pageIns += 1
            e.stats.lastPageInNanoseconds = elapsed
            e.stats.pageInNanoseconds &+= elapsed
            e.stats.pagedInBytes &+= UInt64(moved)
            s.totals.pageIns += 1
            s.totals.pagedInBytes &+= UInt64(moved)
            s.totals.pageInNanoseconds &+= elapsed
        }
        logger.info("paged in", metadata: [
            "session": "\(session.id)", "bytes": "\(moved)", "ms": "\(Double(elapsed) / 1e6)", "copy_ms": "\(Double(copyNanoseconds) / 1e6)",
        ])
    }

    /// Pages a session out now, whatever its idle time (`%tessera release`): fails while it runs a request or
    /// has work in flight.
    func pageOutNow(_ session: Session) throws(DeviceError) -> Int {
        enum Mark { case marked, alreadyPaged, busy }
        let mark = state.withLock { s -> Mark in
            guard let e = s.entries[session.id] else { return .busy }
            if e.state == .paged { return .alreadyPaged }
            guard e.state == .resident, !e.inRequest else { return .busy }
            s.entries[session.id]?.state = .pagingOut
            return .marked
        }
        if mark == .alreadyPaged { return 0 }
        guard mark == .marked else { throw DeviceError(.notReady, "the session is running a request or being paged") }
        let contexts = session.shared.withLock { $0.vgpus.map(\.context) }
        if contexts.contains(where: { $0.hasWorkInFlight }) {
            state.withLock { $0.entries[session.id]?.state = .resident }
            throw DeviceError(.notReady, "the session has work in flight")
        }
        let before = contexts.reduce(0) { $0 + $1.residentBytes }
        guard pageOut(session, reason: "asked") else { throw DeviceError(.internalError, "the page-out failed (see the node's log)") }
        return before
    }

    // MARK: Status

    func status(of session: Session) -> SessionPagingStatus? {
        let now = Self.now
        guard let e = state.withLock({ $0.entries[session.id] }) else { return nil }
        var p = e.stats
        p.state = e.state
        p.idleNanoseconds = e.inRequest ? 0 : now &- e.lastActive
        p.pagedBytes = session.shared.withLock { $0.vgpus.reduce(0) { $0 + $1.context.pagedOutBytes } }
        return p
    }

    var totals: PagingTotals {
        let (totals, entries) = state.withLock { ($0.totals, Array($0.entries.values)) }
        var t = totals
        t.pagedSessions = entries.filter { $0.state != .resident }.count
        t.heldBytes = store.heldBytes.host + store.heldBytes.file
        return t
    }
}

/// The node's paging totals since it started (ended sessions included), for its metrics.
public struct PagingTotals: Sendable, Hashable {
    public var pageOuts = 0
    public var pageIns = 0
    public var pagedOutBytes: UInt64 = 0
    public var pagedInBytes: UInt64 = 0
    public var pageOutNanoseconds: UInt64 = 0
    public var pageInNanoseconds: UInt64 = 0
    /// Sessions not resident now.
    public var pagedSessions = 0
    /// Bytes the page store holds now.
    public var heldBytes = 0
    public init() {}
}
