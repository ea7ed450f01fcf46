import Dispatch
import Synchronization

/// Time-slices one GPU between the contexts on it by their compute quotas.
///
/// The device runs one unit of work (a kernel or a copy) at a time. Each context carries a virtual time that
/// advances by the device time it used divided by its share; among the contexts with queued work, the one
/// with the smallest virtual time runs next, so under contention device time follows the shares (stride
/// scheduling). `limit` contexts also draw from a token bucket that fills at their share of wall time, so
/// they never exceed it even when the GPU is otherwise idle. A `limit` context is charged its own short host
/// gaps as well (from its last unit's end to its next unit's arrival, up to ``hostGapAllowance``): a program
/// alternates device work and host work, and charging only the device part would let it run at
/// limit ÷ (its busy fraction alone) of its unlimited speed, not at the limit. Longer gaps count as idleness.
///
/// Queued work is counted when it is enqueued, not when its stream thread reaches the device, so a context
/// whose next kernel is a few microseconds away from asking still wins its turn: the device is held for it
/// for at most ``reservationNanoseconds``.
///
/// Work is not preempted, as on hardware: a unit is charged after it finishes, and a context that overran
/// waits correspondingly longer (negative tokens, advanced virtual time). The error in any window is
/// therefore at most one unit's duration, and it does not accumulate.
final class DeviceScheduler: Sendable {
    /// Device-time credit a context may keep across idle gaps, in nanoseconds of its own time;
    /// longer idleness forfeits credit so nobody hoards it.
    static let lagAllowance: Double = 20_000_000
    /// Burst a `limit` context may accumulate, as wall-clock nanoseconds at its share.
    static let bucketWindow: Double = 50_000_000
    /// How long the device is held for a context whose queued work has not yet asked for it.
    static let reservationNanoseconds: UInt64 = 300_000
    /// Longest gap between a `limit` context's units still charged to its bucket as part of its own work loop
    /// (a synchronisation's round trip, host code between launches); longer gaps are idleness, not charged.
    static let hostGapAllowance: UInt64 = 20_000_000
    /// The usual wake-up of a host thread, which an unlimited program waits for too and a `limit` program therefore
    /// pays: its stream's worker reaching a launch (paid as part of the host gap), and a multi-block kernel's other
    /// threads joining it (paid beyond the kernel's modelled device time). Longer delays are the host's stalls,
    /// not the program's time.
    static let wakeUpAllowance: UInt64 = 100_000
    /// Window over which utilization is reported.
    static let utilizationWindow: UInt64 = 1_000_000_000

    struct Client {
        var quota: ComputeQuota
        var virtualTime: Double
        var tokens: Double
        var lastRefill: UInt64
        /// Units enqueued and not yet finished (or dropped).
        var pending = 0
        /// Units announced without the lock (``announce(_:)``), not yet added to `pending`.
        let announcements: Announcements
        /// When the context's last unit ended with nothing else queued: the start of its current host gap.
        var idleSince: UInt64?
        /// Recent (start, end) busy intervals; those before `recentHead` have left the utilization window.
        var recent: [(UInt64, UInt64)] = []
        var recentHead = 0

        mutating func refill(now: UInt64) {
            tokens = min(tokens + Double(now &- lastRefill) * share, share * DeviceScheduler.bucketWindow)
            lastRefill = now
        }

        /// Accounts one finished unit that held the device from `start` to `end` and is charged `duration`
        /// (at most its wall time). Mutated in place in the dictionary: copying `recent` would cost O(n).
        mutating func charge(duration: Double, start: UInt64, end: UInt64) {
            pending -= 1
            virtualTime += duration / share
            if quota.mode == .limit { tokens -= duration }
            // The host gap starts when the device was handed back, whatever the unit was charged.
            if pending == 0 { idleSince = end }
            recordBusy(start, start + UInt64(duration))
        }

        /// Work arrives after a host gap (`now`: when the program queued it): a `limit` context pays for a short gap
        /// as for device time.
        mutating func chargeHostGap(now: UInt64) {
            guard quota.mode == .limit, let since = idleSince, now > since else { return }
            let gap = now - since
            if gap <= DeviceScheduler.hostGapAllowance {
                // `now` may be an arrival before the bucket's last refill: never refill backwards.
                if now > lastRefill { refill(now: now) }
                tokens -= Double(gap)
            }
        }

        /// Records a busy interval and forgets those that ended before the utilization window (amortized O(1)).
        mutating func recordBusy(_ start: UInt64, _ end: UInt64) {
            recent.append((start, end))
            let horizon = end > DeviceScheduler.utilizationWindow ? end - DeviceScheduler.utilizationWindow : 0
            while recentHead < recent.count && recent[recentHead].1 < horizon { recentHead += 1 }
            if recentHead > 1024 && recentHead * 2 > recent.count {
                recent.removeFirst(recentHead)
                recentHead = 0
            }
        }
        var share: Double { Double(quota.percent) / 100 }
    }

    struct Waiter {
        let ticket: Int
        let client: ObjectIdentifier
        let wake: DispatchSemaphore
    }

    struct State {
        var clients: [ObjectIdentifier: Client] = [:]
        var waiters: [Waiter] = []
        /// Ticket of the unit on the device, if any.
        var current: Int?
        var reservation: (client: ObjectIdentifier, until: UInt64)?
        var virtualClock: Double = 0
        var nextTicket = 0
    }

    let state = Mutex(State())
    /// Nanoseconds on a monotonic clock: the host's uptime, or a test's simulated time.
    let clock: @Sendable () -> UInt64

    init(clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.clock = clock
    }

    func currentTime() -> UInt64 { clock() }

    /// Units of one client queued since the scheduler last looked: counted without the scheduler's lock, so the
    /// thread that queues work does not contend with the one running it; folded into the client's `pending`
    /// whenever the scheduler decides (``tryStart(_:)``, a grant, a drop).
    ///
    /// For a `limit` client the first announcement after the scheduler last looked also keeps its time: a host gap
    /// ends when the program asks for work, not when the scheduler's thread next gets to look (that thread's own
    /// wake-up latency, milliseconds at times on a busy host, is the simulator's, not the program's host time).
    final class Announcements: Sendable {
        let count = Atomic<Int>(0)
        /// When the oldest unfolded announcement was made (0: none, or the client is not timed).
        let firstArrival = Atomic<UInt64>(0)
        /// Whether announcements record their time: only `limit` clients pay for host gaps.
        let timesArrivals = Atomic<Bool>(false)
        init() {}
    }

    /// - Parameter announcements: where the client's ``announce(_:)`` calls count its queued units.
    func register(_ id: ObjectIdentifier, quota: ComputeQuota, announcements: Announcements = Announcements()) {
        let now = currentTime()
        state.withLock { s in
            s.clients[id] = Client(quota: quota, virtualTime: s.virtualClock,
                                   tokens: Double(quota.percent) / 100 * Self.bucketWindow, lastRefill: now,
                                   announcements: announcements)
        }
        announcements.timesArrivals.store(quota.mode == .limit, ordering: .relaxed)
    }

    func update(_ id: ObjectIdentifier, quota: ComputeQuota) {
        let announcements = state.withLock { s -> Announcements? in
            s.clients[id]?.quota = quota
            return s.clients[id]?.announcements
        }
        announcements?.timesArrivals.store(quota.mode == .limit, ordering: .relaxed)
    }

    func unregister(_ id: ObjectIdentifier) {
        let next = state.withLock { s -> Waiter? in
            s.clients[id] = nil
            s.waiters.removeAll { $0.client == id }
            if s.reservation?.client == id { s.reservation = nil }
            return s.current == nil ? Self.grant(&s, now: currentTime()) : nil
        }
        next?.wake.signal()
    }

    /// A unit of work for `id` was queued.
    func notePending(_ id: ObjectIdentifier) {
        state.withLock { s in
            guard let i = s.clients.index(forKey: id) else { return }
            Self.addPending(&s, i, 1, now: currentTime())
        }
    }

    /// A unit of work of the client registered with `announcements` was queued: as ``notePending(_:)``, without
    /// the lock (the unit counts from the scheduler's next decision, which comes before it can start).
    func announce(_ announcements: Announcements) {
        if announcements.timesArrivals.load(ordering: .relaxed) {
            _ = announcements.firstArrival.compareExchange(expected: 0, desired: currentTime(), ordering: .relaxed)
        }
        announcements.count.add(1, ordering: .releasing)
    }

    /// Adds `n` queued units to client `i`; a client becoming busy after idleness is measured against the
    /// furthest-behind active client (the global virtual time) and keeps at most a little credit. The clock is
    /// read only then.
    /// - Parameter arrival: when the first of the units was queued, if known (a timed announcement); the host gap
    ///   of a client becoming busy ends there, or else now.
    private static func addPending(_ s: inout State, _ i: Dictionary<ObjectIdentifier, Client>.Index, _ n: Int,
                                   now clock: @autoclosure () -> UInt64, arrival: UInt64 = 0) {
        // The client accessed in place: a copy would retain its busy-interval history.
        let becameBusy = access(&s.clients.values[i]) { c in
            c.pending += n
            return c.pending == n
        }
        guard becameBusy else { return }
        let now = clock()
        let id = s.clients.keys[i]
        var globalTime = s.virtualClock
        var found = false
        if s.clients.count > 1 {
            for (other, o) in s.clients where other != id && o.pending > 0 {
                globalTime = found ? min(globalTime, o.virtualTime) : o.virtualTime
                found = true
            }
        }
        access(&s.clients.values[i]) { c in
            c.chargeHostGap(now: arrival > 0 ? min(arrival + Self.wakeUpAllowance, now) : now)
            c.idleSince = nil
            c.virtualTime = max(c.virtualTime, globalTime - Self.lagAllowance / c.share)
        }
    }

    /// Moves every client's lock-free announcements into its `pending` count.
    private static func foldAnnouncements(_ s: inout State, now: @autoclosure () -> UInt64) {
        var i = s.clients.startIndex
        while i != s.clients.endIndex {
            let (n, arrival) = access(&s.clients.values[i]) { c -> (Int, UInt64) in
                if c.announcements.count.load(ordering: .relaxed) == 0 { return (0, 0) }
                let n = c.announcements.count.exchange(0, ordering: .acquiring)
                return (n, c.announcements.firstArrival.exchange(0, ordering: .relaxed))
            }
            if n > 0 { addPending(&s, i, n, now: now(), arrival: arrival) }
            s.clients.formIndex(after: &i)
        }
    }

    /// Reads or changes a client where it is stored (a dictionary's getter would copy it, retaining its history).
    @inline(__always)
    private static func access<R>(_ c: inout Client, _ body: (inout Client) -> R) -> R { body(&c) }

    /// A queued unit of `id` will not run (its context failed or was destroyed).
    func dropPending(_ id: ObjectIdentifier) {
        let next = state.withLock { s -> Waiter? in
            // The dropped unit may still be an announcement.
            Self.foldAnnouncements(&s, now: currentTime())
            s.clients[id]?.pending -= 1
            return s.current == nil ? Self.grant(&s, now: currentTime()) : nil
        }
        next?.wake.signal()
    }

    /// Runs `work` when the scheduler grants the device to `id`, and charges its duration.
    /// The unit must have been announced with ``notePending(_:)``.
    /// - Parameter elapsed: set to the device time charged (waiting excluded).
    /// - Parameter deviceTime: the unit's device time as the simulated device models it, when the work knows
    ///   it (a multi-block kernel: its blocks' work spread over the device's parallel units), read after the
    ///   work. The charge is the wall time, but at most the modelled time plus ``wakeUpAllowance``: a kernel
    ///   whose second host thread woke late ran longer on the host than on the device it simulates, and its
    ///   program must not pay for the host's stall; the threads' usual wake-up it pays, as an unlimited program
    ///   waits for it.
    func run<T>(_ id: ObjectIdentifier, elapsed: inout UInt64, deviceTime: () -> UInt64? = { nil },
                _ work: () throws(SimError) -> T) throws(SimError) -> T {
        acquire(id)
        let start = currentTime()
        defer {
            let end = currentTime()
            elapsed = Self.charge(wall: end - start, modelled: deviceTime())
            release(id, start: start, end: end, charged: elapsed)
        }
        return try work()
    }

    /// What a unit that held the device for `wall` nanoseconds is charged, given its modelled device time if any.
    static func charge(wall: UInt64, modelled: UInt64?) -> UInt64 {
        guard let modelled else { return wall }
        return min(wall, modelled &+ wakeUpAllowance)
    }

    /// Starts a unit of `id` at once if the device is free and `id` is next in line (tokens permitting);
    /// otherwise changes nothing. The decision `acquire` takes before it waits; tests drive it directly.
    func tryStart(_ id: ObjectIdentifier) -> Bool {
        state.withLock { s -> Bool in
            // A busy device refuses without reading the clock; otherwise it is read only if needed (a reservation
            // for someone else, or a `limit` client's tokens), once.
            guard s.current == nil else { return false }
            var read: UInt64?
            func now() -> UInt64 {
                if let read { return read }
                let t = currentTime()
                read = t
                return t
            }
            Self.foldAnnouncements(&s, now: now())
            if let r = s.reservation, r.client != id, now() >= r.until { s.reservation = nil }
            guard s.reservation.map({ $0.client == id }) ?? true,
                  Self.bestClient(&s, now: now()) == id else { return false }
            let t = s.nextTicket
            s.nextTicket += 1
            s.reservation = nil
            _ = Self.start(&s, Waiter(ticket: t, client: id, wake: Self.unused))
            return true
        }
    }

    /// How long a unit of `id` that could not start waits before it asks again by itself (nil: until woken).
    func retryDelay(_ id: ObjectIdentifier) -> UInt64? {
        let now = currentTime()
        return state.withLock { s in Self.wakeAfter(s, id, now: now) }
    }

    /// Ends the unit on the device, started at `start`: charges it to `id` (its wall time, or at most `charged`,
    /// its modelled device time, plus ``wakeUpAllowance``) and starts the next waiter, if any.
    func finish(_ id: ObjectIdentifier, start: UInt64, charged: UInt64? = nil) {
        let end = currentTime()
        release(id, start: start, end: end, charged: Self.charge(wall: end - start, modelled: charged))
    }

    private func acquire(_ id: ObjectIdentifier) {
        // Fast path, one lock and no semaphore: the device is free and this client is next in line.
        if tryStart(id) { return }
        let wake = DispatchSemaphore(value: 0)
        let ticket = state.withLock { s -> Int in
            let t = s.nextTicket
            s.nextTicket += 1
            s.waiters.append(Waiter(ticket: t, client: id, wake: wake))
            return t
        }
        while true {
            // Try to start: the device is free and this waiter is the one to run.
            let (granted, other, timeout) = state.withLock { s -> (Bool, Waiter?, UInt64?) in
                if s.current == ticket { return (true, nil, nil) }
                var other: Waiter?
                if s.current == nil, let w = Self.grant(&s, now: currentTime()) {
                    if w.ticket == ticket { return (true, nil, nil) }
                    other = w
                }
                return (false, other, Self.wakeAfter(s, id, now: currentTime()))
            }
            other?.wake.signal()
            if granted { return }
            // Timed even without a known deadline: a reservation made later for another client may lapse.
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(timeout ?? 2_000_000)))
        }
    }

    /// When a waiter must re-check by itself: a reservation for someone else expires, or its tokens refill.
    private static func wakeAfter(_ s: State, _ id: ObjectIdentifier, now: UInt64) -> UInt64? {
        var t: UInt64?
        if let r = s.reservation, r.client != id { t = r.until > now ? r.until - now : 1_000 }
        if let c = s.clients[id], c.quota.mode == .limit, c.tokens <= 0 {
            let refill = UInt64(-c.tokens / c.share) + 50_000
            t = min(t ?? refill, refill)
        }
        return t.map { min($0, 50_000_000) }
    }

    private func release(_ id: ObjectIdentifier, start: UInt64, end: UInt64, charged: UInt64) {
        let next = state.withLock { s -> Waiter? in
            Self.foldAnnouncements(&s, now: end)  // work queued meanwhile keeps the client busy: no host gap
            s.clients[id]?.charge(duration: Double(charged), start: start, end: end)
            s.current = nil
            return Self.grant(&s, now: currentTime())
        }
        next?.wake.signal()
    }

    /// With the device free, starts the next unit: the waiting unit of the client with queued work and the
    /// smallest virtual time; if that client's unit has not asked yet, reserves the device for it briefly.
    /// Returns the started waiter, whose semaphore the caller signals (outside the lock).
    /// The clock (`now`) is read only if needed, once: a reservation to check or make, or a `limit` client.
    private static func grant(_ s: inout State, now clock: @autoclosure () -> UInt64) -> Waiter? {
        var read: UInt64?
        func now() -> UInt64 {
            if let read { return read }
            let t = clock()
            read = t
            return t
        }
        foldAnnouncements(&s, now: now())
        if let r = s.reservation, now() >= r.until { s.reservation = nil }
        let chosen: ObjectIdentifier
        if let r = s.reservation {
            chosen = r.client
        } else {
            let best = bestClient(&s, now: now())
            // Waiters of clients the scheduler no longer knows run at once.
            if best == nil, let orphan = s.waiters.first(where: { s.clients[$0.client] == nil }) { return start(&s, orphan) }
            guard let b = best else { return nil }
            chosen = b
        }
        if let w = s.waiters.first(where: { $0.client == chosen }) {
            s.reservation = nil
            return start(&s, w)
        }
        // Held only against other clients: a lone client's next unit needs no reservation.
        if s.reservation == nil && s.clients.count > 1 { s.reservation = (chosen, now() + reservationNanoseconds) }
        return nil
    }

    /// The client with queued work, tokens (for `limit`) and the smallest virtual time.
    private static func bestClient(_ s: inout State, now: @autoclosure () -> UInt64) -> ObjectIdentifier? {
        // By index, not by key: no hashing per unit (the common case is one client, or a few).
        var best: Dictionary<ObjectIdentifier, Client>.Index?
        var bestTime = Double.infinity
        var i = s.clients.startIndex
        while i != s.clients.endIndex {
            defer { s.clients.formIndex(after: &i) }
            let time = access(&s.clients.values[i]) { c -> Double? in
                guard c.pending > 0 else { return nil }
                if c.quota.mode == .limit {
                    c.refill(now: now())
                    if c.tokens <= 0 { return nil }
                }
                return c.virtualTime
            }
            guard let time else { continue }
            if time < bestTime || (time == bestTime && best.map { s.clients.keys[i].hashValue < s.clients.keys[$0].hashValue } ?? true) {
                bestTime = time
                best = i
            }
        }
        return best.map { s.clients.keys[$0] }
    }

    /// Placeholder semaphore for units started on the fast path (nobody waits on it).
    private static let unused = DispatchSemaphore(value: 0)

    private static func start(_ s: inout State, _ w: Waiter) -> Waiter {
        s.current = w.ticket
        s.waiters.removeAll { $0.ticket == w.ticket }
        if let i = s.clients.index(forKey: w.client) { s.virtualClock = access(&s.clients.values[i]) { $0.virtualTime } }
        return w
    }

    /// Fraction of the last second of wall time the client's work occupied the device.
    func utilization(_ id: ObjectIdentifier) -> Double {
        let now = currentTime()
        let horizon = now > Self.utilizationWindow ? now - Self.utilizationWindow : 0
        return state.withLock { s in
            guard let c = s.clients[id] else { return 0 }
            let busy = c.recent[c.recentHead...].reduce(UInt64(0)) { sum, r in sum + (r.1 > horizon ? r.1 - max(r.0, horizon) : 0) }
            return Double(busy) / Double(Self.utilizationWindow)
        }
    }
}
