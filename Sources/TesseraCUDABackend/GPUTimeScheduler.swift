#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TesseraWire

/// One real GPU's compute scheduler in the node: it decides when each session's worker may submit its next
/// launch, and charges device time the worker measured with CUDA events.
///
/// - Every session keeps at most ``maxInFlightNanoseconds`` of work (estimated from its mean launch time) queued
///   on the GPU, so the scheduler's decisions take effect within a few milliseconds.
/// - `share`: stride scheduling on charged time. Each active session has a virtual time, its charged device time
///   divided by its share; a session more than one slice ahead of the most-behind active one waits. Idle time is
///   lent out (a session alone runs at full speed); a session that returns from idle starts level with the others.
/// - `limit`: a token bucket filled at the share's rate (at most ``burstNanoseconds`` saved up) and emptied by
///   charged time; an empty bucket waits, even when the GPU is otherwise idle. The session's own short host
///   gaps (from its work draining to its next launch, up to ``hostGapAllowanceNanoseconds``) are charged too,
///   so a program limited to L runs at L of its unlimited speed, not at L ÷ its busy fraction alone.
///
/// - Turns: while one session's launches are in flight, the others wait. A GPU time-slices between contexts, so
///   a kernel queued behind another session's work would be measured (CUDA events) with that work's time in it,
///   and everyone would be charged for everyone: the measured shares drift toward equal. A session keeps the
///   GPU while the rules above admit it; when it is held back its work drains and the next session goes. A
///   holder whose report is older than ``turnStaleNanoseconds`` (blocked, or gone quiet) no longer holds
///   the others back.
///
/// Limits: kernels longer than the in-flight window are charged only when they complete, so a session whose
/// kernels each run for seconds overshoots by one kernel; kernels of different contexts never overlap on the GPU
/// (time-slicing), so shares are of time, not of SMs.
public final class GPUTimeScheduler: Sendable {
    public static let maxInFlightNanoseconds: UInt64 = 4_000_000
    public static let sliceNanoseconds: Double = 2_000_000
    public static let burstNanoseconds: Double = 10_000_000
    /// Longest host gap of a `limit` session still charged as part of its work loop; longer ones are idleness.
    public static let hostGapAllowanceNanoseconds: UInt64 = 20_000_000
    /// A session that launched nothing for this long is idle: it does not hold the others back.
    let idleAfterNanoseconds: UInt64
    /// The GPU's holder (see "Turns") stops holding the others back when its last report is this old.
    let turnStaleNanoseconds: UInt64

    struct Entry {
        var percent: Int
        var limit: Bool
        var charged: UInt64 = 0
        var inFlight = 0
        var meanLaunch: UInt64 = 0
        var virtualTime: Double = 0
        var tokens: Double = 0
        var lastRefill: UInt64
        var lastLaunch: UInt64 = 0
        /// When it last asked to launch (a session waiting for its turn is active too).
        var lastAsked: UInt64 = 0
        /// Launches posted since the worker last reported, and when it did.
        var launchesSinceUpdate = 0
        var lastUpdate: UInt64 = 0
        /// When its work was last seen to drain (nothing in flight) while it was not waiting for admission: the
        /// start of a host gap. A drain while it waits is the scheduler's doing, not the program's.
        var idleSince: UInt64?
        /// Its last admission was refused and it has not launched since.
        var refused = false

        /// A `limit` session's share of wall time, as a fraction.
        var rate: Double { Double(percent) / 100 }

        /// Adds the tokens earned since the last refill, keeping at most the burst.
        mutating func refill(now: UInt64) {
            tokens = min(GPUTimeScheduler.burstNanoseconds, tokens + Double(now - lastRefill) * rate)
            lastRefill = now
        }
    }
    struct State {
        var entries: [Int: Entry] = [:]
        var next = 0
        /// The session whose launches last went (see "Turns").
        var holder: Int?
    }
    private let state = Mutex(State())

    /// Nanoseconds on a monotonic clock: CLOCK_MONOTONIC, or a test's simulated time.
    let clock: @Sendable () -> UInt64

    public init(idleAfterNanoseconds: UInt64 = 20_000_000, turnStaleNanoseconds: UInt64 = 20_000_000,
                clock: @escaping @Sendable () -> UInt64 = GPUTimeScheduler.now) {
        self.idleAfterNanoseconds = idleAfterNanoseconds
        self.turnStaleNanoseconds = turnStaleNanoseconds
        self.clock = clock
    }

    public static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Registers a session's context; returns its ticket.
    public func add(percent: Int, mode: ComputeMode) -> Int {
        state.withLock { s in
            let id = s.next
            s.next += 1
            s.entries[id] = Entry(percent: max(1, min(100, percent)), limit: mode == .limit, tokens: Self.burstNanoseconds / 10, lastRefill: clock())
            return id
        }
    }

    public func remove(_ ticket: Int) {
        state.withLock { s in
            s.entries.removeValue(forKey: ticket)
            if s.holder == ticket { s.holder = nil }
        }
    }

    /// Device time charged to a ticket so far, in nanoseconds.
    public func charged(_ ticket: Int) -> UInt64 { state.withLock { $0.entries[ticket]?.charged ?? 0 } }

    /// Records what the worker reported: total charged time, launches in flight, mean launch time.
    func update(_ ticket: Int, _ usage: WorkerUsage) {
        state.withLock { s in
            guard var e = s.entries[ticket] else { return }
            let delta = usage.busyNanoseconds > e.charged ? usage.busyNanoseconds - e.charged : 0
            e.charged = max(e.charged, usage.busyNanoseconds)
            if usage.inFlight == 0, e.inFlight > 0, !e.refused { e.idleSince = clock() }
            e.inFlight = usage.inFlight
            e.meanLaunch = usage.meanLaunchNanoseconds
            e.virtualTime += Double(delta) / Double(e.percent)
            e.tokens -= Double(delta)
            e.launchesSinceUpdate = 0
            e.lastUpdate = clock()
            s.entries[ticket] = e
        }
    }

    /// Nil when the ticket's next launch may go now; otherwise how long to wait (microseconds) before asking
    /// again with fresh usage.
    func admission(_ ticket: Int) -> UInt32? {
        state.withLock { s -> UInt32? in
            guard var e = s.entries[ticket] else { return nil }
            let now = clock()
            let askedBefore = e.lastAsked
            e.lastAsked = now
            defer { s.entries[ticket] = e }
            // The program's host gap ends with its first ask after its work drained, granted or not.
            if e.limit, let since = e.idleSince {
                if now > since, now - since <= Self.hostGapAllowanceNanoseconds {
                    e.refill(now: now)
                    e.tokens -= Double(now - since)
                }
                e.idleSince = nil
            }
            e.refused = true
            // Another session's turn: wait until its launches have drained.
            if let h = s.holder, h != ticket, let holder = s.entries[h], holder.inFlight > 0,
               now - holder.lastUpdate < turnStaleNanoseconds {
                return 200
            }
            // Few milliseconds in flight: beyond that the GPU's queue, not the scheduler, would decide.
            let estimate = e.meanLaunch == 0 ? (e.inFlight >= 2 ? UInt64.max : 0) : UInt64(e.inFlight) * e.meanLaunch
            if e.inFlight > 0, estimate > Self.maxInFlightNanoseconds { return 200 }
            if e.limit {
                e.refill(now: now)
                if e.tokens < 0 { return UInt32(min(2_000, max(100, -e.tokens / e.rate / 1_000))) }
            } else {
                // Waiting for a turn is not idleness: only a session that neither launched nor asked lately was idle.
                let lastActive = max(e.lastLaunch, askedBefore)
                let wasIdle = e.inFlight == 0 && (lastActive == 0 || now - lastActive > idleAfterNanoseconds)
                let others = s.entries.filter { $0.key != ticket && !$0.value.limit && isActive($0.value, now) }
                let floor = others.values.map(\.virtualTime).min()
                if let floor {
                    if wasIdle { e.virtualTime = max(e.virtualTime, floor) }
                    if e.virtualTime > floor + Self.sliceNanoseconds / Double(e.percent) { return 200 }
                }
            }
            e.lastLaunch = now
            e.refused = false
            s.holder = ticket
            return nil
        }
    }

    /// Launches posted between two usage polls at most, and the longest a poll waits.
    static let launchesPerUpdate = 32
    static let updateIntervalNanoseconds: UInt64 = 1_000_000

    /// Notes a launch posted to the ticket's worker (counted in flight until the worker's next report); true
    /// when the worker's usage should be polled now.
    func launched(_ ticket: Int) -> Bool {
        state.withLock { s -> Bool in
            guard var e = s.entries[ticket] else { return false }
            defer { s.entries[ticket] = e }
            e.inFlight += 1
            e.launchesSinceUpdate += 1
            return e.launchesSinceUpdate >= Self.launchesPerUpdate || clock() - e.lastUpdate >= Self.updateIntervalNanoseconds
        }
    }

    func isActive(_ e: Entry, _ now: UInt64) -> Bool {
        let last = max(e.lastLaunch, e.lastAsked)
        return e.inFlight > 0 || (last != 0 && now - last <= idleAfterNanoseconds)
    }
}
