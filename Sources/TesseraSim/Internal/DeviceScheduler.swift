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
    /// Window over which utilization is reported.
    static let utilizationWindow: UInt64 = 1_000_000_000

    struct Client {
        var quota: ComputeQuota
        var virtualTime: Double
        var tokens: Double
        var lastRefill: UInt64
        /// Units enqueued and not yet finished (or dropped).
        var pending = 0
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

        /// Work arrives after a host gap: a `limit` context pays for a short gap as for device time.
        mutating func chargeHostGap(now: UInt64) {
            guard quota.mode == .limit, let since = idleSince, now > since else { return }
            let gap = now - since
            if gap <= DeviceScheduler.hostGapAllowance {
                refill(now: now)
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

    func register(_ id: ObjectIdentifier, quota: ComputeQuota) {
        let now = currentTime()
        state.withLock { s in
            s.clients[id] = Client(quota: quota, virtualTime: s.virtualClock,
                                   tokens: Double(quota.percent) / 100 * Self.bucketWindow, lastRefill: now)
        }
    }

    func update(_ id: ObjectIdentifier, quota: ComputeQuota) {
        state.withLock { s in s.clients[id]?.quota = quota }
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
        let now = currentTime()
        state.withLock { s in
            guard let c = s.clients[id] else { return }
            if c.pending == 0 {
                s.clients[id]!.chargeHostGap(now: now)
                s.clients[id]!.idleSince = nil
                // Becoming busy after idleness: measured against the furthest-behind active client (the global
                // virtual time), keep at most a little credit.
                var globalTime = s.virtualClock
                var found = false
                for (other, o) in s.clients where other != id && o.pending > 0 {
                    globalTime = found ? min(globalTime, o.virtualTime) : o.virtualTime
                    found = true
                }
                s.clients[id]!.virtualTime = max(c.virtualTime, globalTime - Self.lagAllowance / c.share)
            }
            // In place: a copy of the client would copy its busy-interval history.
            s.clients[id]!.pending += 1
        }
    }

    /// A queued unit of `id` will not run (its context failed or was destroyed).
    func dropPending(_ id: ObjectIdentifier) {
        let next = state.withLock { s -> Waiter? in
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
    ///   work. The charge is that, capped by the wall time; nil charges the wall time. A kernel whose second host
    ///   thread woke late ran longer on the host than on the device it simulates, and its program must not pay
    ///   for the host's wake-up latency.
    func run<T>(_ id: ObjectIdentifier, elapsed: inout UInt64, deviceTime: () -> UInt64? = { nil },
                _ work: () throws(SimError) -> T) throws(SimError) -> T {
        acquire(id)
        let start = currentTime()
        defer {
            let end = currentTime()
            let wall = end - start
            elapsed = min(wall, deviceTime() ?? wall)
            release(id, start: start, end: end, charged: elapsed)
        }
        return try work()
    }

    /// Starts a unit of `id` at once if the device is free and `id` is next in line (tokens permitting);
    /// otherwise changes nothing. The decision `acquire` takes before it waits; tests drive it directly.
    func tryStart(_ id: ObjectIdentifier) -> Bool {
        let now = currentTime()
        return state.withLock { s -> Bool in
            if let r = s.reservation, now >= r.until { s.reservation = nil }
            guard s.current == nil, s.reservation.map({ $0.client == id }) ?? true,
                  Self.bestClient(&s, now: now) == id else { return false }
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

    /// Ends the unit on the device, started at `start`: charges it to `id` (its wall time, or `charged` device
    /// time when the unit modelled it) and starts the next waiter, if any.
    func finish(_ id: ObjectIdentifier, start: UInt64, charged: UInt64? = nil) {
        let end = currentTime()
        release(id, start: start, end: end, charged: min(end - start, charged ?? end - start))
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
            s.clients[id]?.charge(duration: Double(charged), start: start, end: end)
            s.current = nil
            return Self.grant(&s, now: currentTime())
        }
        next?.wake.signal()
    }

    /// With the device free, starts the next unit: the waiting unit of the client with queued work and the
    /// smallest virtual time; if that client's unit has not asked yet, reserves the device for it briefly.
    /// Returns the started waiter, whose semaphore the caller signals (outside the lock).
    private static func grant(_ s: inout State, now: UInt64) -> Waiter? {
        if let r = s.reservation, now >= r.until { s.reservation = nil }
        let chosen: ObjectIdentifier
        if let r = s.reservation {
            chosen = r.client
        } else {
            let best = bestClient(&s, now: now)
            // Waiters of clients the scheduler no longer knows run at once.
            if best == nil, let orphan = s.waiters.first(where: { s.clients[$0.client] == nil }) { return start(&s, orphan) }
            guard let b = best else { return nil }
            chosen = b
        }
        if let w = s.waiters.first(where: { $0.client == chosen }) {
            s.reservation = nil
            return start(&s, w)
        }
        if s.reservation == nil { s.reservation = (chosen, now + reservationNanoseconds) }
        return nil
    }

    /// The client with queued work, tokens (for `limit`) and the smallest virtual time.
    private static func bestClient(_ s: inout State, now: UInt64) -> ObjectIdentifier? {
        var best: ObjectIdentifier?
        var bestTime = Double.infinity
        for id in s.clients.keys where s.clients[id]!.pending > 0 {
            if s.clients[id]!.quota.mode == .limit {
                s.clients[id]!.refill(now: now)
                if s.clients[id]!.tokens <= 0 { continue }
            }
            let c = s.clients[id]!
            if c.virtualTime < bestTime || (c.virtualTime == bestTime && best.map { id.hashValue < $0.hashValue } ?? true) {
                bestTime = c.virtualTime
                best = id
            }
        }
        return best
    }

    /// Placeholder semaphore for units started on the fast path (nobody waits on it).
    private static let unused = DispatchSemaphore(value: 0)

    private static func start(_ s: inout State, _ w: Waiter) -> Waiter {
        s.current = w.ticket
        s.waiters.removeAll { $0.ticket == w.ticket }
        if let c = s.clients[w.client] { s.virtualClock = c.virtualTime }
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
