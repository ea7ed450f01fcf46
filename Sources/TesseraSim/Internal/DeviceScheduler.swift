import Dispatch
import Synchronization

/// Time-slices one GPU between the contexts on it by their compute quotas.
///
/// The device runs one unit of work (a kernel or a copy) at a time. Each context carries a virtual time that
/// advances by the device time it used divided by its share; among the contexts with queued work, the one
/// with the smallest virtual time runs next, so under contention device time follows the shares (stride
/// scheduling). `limit` contexts also draw from a token bucket that fills at their share of wall time, so
/// they never exceed it even when the GPU is otherwise idle.
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
    /// Window over which utilization is reported.
    static let utilizationWindow: UInt64 = 1_000_000_000

    struct Client {
        var quota: ComputeQuota
        var virtualTime: Double
        var tokens: Double
        var lastRefill: UInt64
        /// Units enqueued and not yet finished (or dropped).
        var pending = 0
        /// Recent (start, end) busy intervals within the utilization window.
        var recent: [(UInt64, UInt64)] = []
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

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func register(_ id: ObjectIdentifier, quota: ComputeQuota) {
        let now = Self.now()
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
            return s.current == nil ? Self.grant(&s, now: Self.now()) : nil
        }
        next?.wake.signal()
    }

    /// A unit of work for `id` was queued.
    func notePending(_ id: ObjectIdentifier) {
        state.withLock { s in
            guard var c = s.clients[id] else { return }
            if c.pending == 0 {
                // Becoming busy after idleness: measured against the busiest-behind active client (the global
                // virtual time), keep at most a little credit.
                var globalTime = s.virtualClock
                var found = false
                for (other, o) in s.clients where other != id && o.pending > 0 {
                    globalTime = found ? min(globalTime, o.virtualTime) : o.virtualTime
                    found = true
                }
                c.virtualTime = max(c.virtualTime, globalTime - Self.lagAllowance / c.share)
            }
            c.pending += 1
            s.clients[id] = c
        }
    }

    /// A queued unit of `id` will not run (its context failed or was destroyed).
    func dropPending(_ id: ObjectIdentifier) {
        let next = state.withLock { s -> Waiter? in
            s.clients[id]?.pending -= 1
            return s.current == nil ? Self.grant(&s, now: Self.now()) : nil
        }
        next?.wake.signal()
    }

    /// Runs `work` when the scheduler grants the device to `id`, and charges its duration.
    /// The unit must have been announced with ``notePending(_:)``.
    /// - Parameter elapsed: set to the device time the work took (waiting excluded).
    func run<T>(_ id: ObjectIdentifier, elapsed: inout UInt64, _ work: () throws(SimError) -> T) throws(SimError) -> T {
        acquire(id)
        let start = Self.now()
        defer {
            let end = Self.now()
            elapsed = end - start
            release(id, start: start, end: end)
        }
        return try work()
    }

    private func acquire(_ id: ObjectIdentifier) {
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
                if s.current == nil, let w = Self.grant(&s, now: Self.now()) {
                    if w.ticket == ticket { return (true, nil, nil) }
                    other = w
                }
                return (false, other, Self.wakeAfter(s, id, now: Self.now()))
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

    private func release(_ id: ObjectIdentifier, start: UInt64, end: UInt64) {
        let next = state.withLock { s -> Waiter? in
            let duration = Double(end - start)
            if var c = s.clients[id] {
                c.pending -= 1
                c.virtualTime += duration / c.share
                if c.quota.mode == .limit { c.tokens -= duration }
                c.recent.append((start, end))
                let horizon = end > Self.utilizationWindow ? end - Self.utilizationWindow : 0
                if let first = c.recent.first, first.1 < horizon { c.recent.removeAll { $0.1 < horizon } }
                s.clients[id] = c
            }
            s.current = nil
            return Self.grant(&s, now: Self.now())
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
            var best: ObjectIdentifier?
            var bestTime = Double.infinity
            for (id, var c) in s.clients where c.pending > 0 {
                if c.quota.mode == .limit {
                    c.tokens = min(c.tokens + Double(now &- c.lastRefill) * c.share, c.share * bucketWindow)
                    c.lastRefill = now
                    s.clients[id] = c
                    if c.tokens <= 0 { continue }
                }
                if c.virtualTime < bestTime || (c.virtualTime == bestTime && best.map { id.hashValue < $0.hashValue } ?? true) {
                    bestTime = c.virtualTime
                    best = id
                }
            }
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

    private static func start(_ s: inout State, _ w: Waiter) -> Waiter {
        s.current = w.ticket
        s.waiters.removeAll { $0.ticket == w.ticket }
        if let c = s.clients[w.client] { s.virtualClock = c.virtualTime }
        return w
    }

    /// Fraction of the last second of wall time the client's work occupied the device.
    func utilization(_ id: ObjectIdentifier) -> Double {
        let now = Self.now()
        let horizon = now > Self.utilizationWindow ? now - Self.utilizationWindow : 0
        return state.withLock { s in
            guard let c = s.clients[id] else { return 0 }
            let busy = c.recent.reduce(UInt64(0)) { sum, r in sum + (r.1 > horizon ? r.1 - max(r.0, horizon) : 0) }
            return Double(busy) / Double(Self.utilizationWindow)
        }
    }
}
