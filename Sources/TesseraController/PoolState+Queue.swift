import TesseraPoolAPI

extension PoolState {
    /// A request waiting for room, or granted and not yet collected by its waiter. Waiting holds nothing.
    public struct Waiter: Sendable, Hashable {
        public var id: String
        public var request: LeaseRequest
        /// Its group's name, `""` for none.
        public var group: String
        public var since: Double
        public var deadline: Double
        /// When its waiter last asked: a waiter silent for ``PoolState/waiterTimeout`` is gone.
        public var lastSeen: Double
        /// The attach credential its lease gets.
        var secret: String?
        /// The refusal it would get now.
        public var reason: String
        public var state: QueueEntry.State
        public var lease: Lease?
    }

    /// Seconds a waiter may go without asking before its entry (or its uncollected grant) is dropped.
    public static let waiterTimeout = 5.0

    /// Queues a request that may wait: granted at once when it fits and nothing of its group waits ahead of it,
    /// else queued behind its group's waiters. Requests that cannot fit their group's quota even alone, or that
    /// are malformed, are refused at once.
    public mutating func enqueue(_ q: QueueRequest, now: Double, secret: String?) throws(PoolError) -> (QueueEntry, [Change]) {
        guard q.waitSeconds > 0, q.waitSeconds <= 86_400 else { throw PoolError(.invalidRequest, "waitSeconds must be in (0, 86400]") }
        guard q.lease.reservation == nil else { throw PoolError(.invalidRequest, "a reservation's claim does not wait in the queue") }
        let group = group(of: q.lease)
        _ = try Placer.check(q.lease.spec, nodes: nodes, cordons: cordons)
        try checkFitsQuotaAlone(q.lease.spec, group: group)
        let name = group?.name ?? ""
        var reason = ""
        if !waiters.contains(where: { $0.group == name && $0.state == .waiting }) {
            do throws(PoolError) {
                let (lease, changes) = try grant(q.lease, now: now, secret: secret)
                return (QueueEntry(id: "", state: .granted, group: name, owner: q.lease.owner, program: q.lease.program, spec: q.lease.spec,
                                   position: 0, since: now, deadline: now, reason: "", lease: lease), changes)
            } catch where error.code == .unavailable {
                reason = error.message
            }
        } else {
            reason = "requests of \(name.isEmpty ? "the pool" : "group \(name)") wait ahead of it"
        }
        let w = Waiter(id: "wait-\(nextWaiter)", request: q.lease, group: name, since: now, deadline: now + q.waitSeconds, lastSeen: now,
                       secret: secret, reason: reason, state: .waiting, lease: nil)
        nextWaiter += 1
        waiters.append(w)
        record(now, "queued", "\(w.id) for \(q.lease.program.isEmpty ? "a program" : q.lease.program) in \(name.isEmpty ? "the pool's queue" : "group \(name)"): \(reason)")
        return (entry(w), [])
    }

    /// A waiter asks how its request does: a granted one is handed over (and leaves the queue), one past its
    /// deadline is refused (and leaves), a waiting one says its position.
    public mutating func collect(_ id: String, now: Double) throws(PoolError) -> (QueueEntry, [Change]) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else {
            throw PoolError(.notFound, "no queue entry \(id): it lapsed (its waiter was silent for \(Int(Self.waiterTimeout)) s) or was left")
        }
        var w = waiters[i]
        switch w.state {
        case .granted:
            waiters.remove(at: i)
            // Written again so that this reply follows the grant's commit.
            return (entry(w), w.lease.map { [.putLease($0)] } ?? [])
        case .waiting where now >= w.deadline:
            waiters.remove(at: i)
            let waited = Int((now - w.since).rounded())
            record(now, "queue-timeout", "\(id) gave up after \(waited) s: \(w.reason)")
            tallies.allocations[AllocationOutcome(result: "refused", reason: PoolError.Code.unavailable.rawValue), default: 0] += 1
            throw PoolError(.unavailable, "waited \(waited) s in \(w.group.isEmpty ? "the pool's queue" : "group \(w.group)'s queue"): \(w.reason)")
        case .waiting:
            w.lastSeen = now
            waiters[i] = w
            return (entry(w), [])
        }
    }

    /// A waiter gives up: its entry leaves the queue; a grant it had not collected is released.
    public mutating func leaveQueue(_ id: String, now: Double) throws(PoolError) -> [Change] {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { throw PoolError(.notFound, "no queue entry \(id)") }
        let w = waiters.remove(at: i)
        record(now, "queue-left", "\(id) left the queue")
        if let lease = w.lease { return release(lease: lease.id, now: now, reason: "its waiter left the queue") }
        return []
    }

    /// The entry as its waiter and `tessera queue` see it (the lease with its secret only while granted).
    func entry(_ w: Waiter) -> QueueEntry {
        let position = w.state == .granted ? 0
            : waiters.lazy.filter { $0.group == w.group && $0.state == .waiting }.prefix { $0.id != w.id }.count + 1
        return QueueEntry(id: w.id, state: w.state, group: w.group, owner: w.request.owner, program: w.request.program, spec: w.request.spec,
                          position: position, since: w.since, deadline: w.deadline, reason: w.reason, lease: w.lease)
    }

    /// Every entry, in arrival order, without leases' secrets.
    public func queueEntries() -> [QueueEntry] {
        waiters.map { w in
            var e = entry(w)
            e.lease = e.lease?.redacted
            return e
        }
    }

    /// Grants waiting requests while they fit: the head of each group's queue (first in, first out within a
    /// group), groups of higher priority first, then the group holding the least of its quota. One group's
    /// head that does not fit does not hold up the others'. Called after every change, in the same
    /// transition, so a head is granted the moment room frees.
    public mutating func serveQueue(now: Double) -> [Change] {
        guard waiters.contains(where: { $0.state == .waiting }) else { return [] }
        var changes: [Change] = []
        var tried: Set<String> = []
        while true {
            var heads: [Int] = []
            var seen: Set<String> = []
            for (i, w) in waiters.enumerated() where w.state == .waiting && w.deadline > now && !tried.contains(w.group)
                && seen.insert(w.group).inserted {
                heads.append(i)
            }
            guard !heads.isEmpty else { break }
            struct Rank { var index: Int; var priority: Int; var share: Double; var since: Double }
            var ranked: [Rank] = []
            for i in heads {
                ranked.append(Rank(index: i, priority: priority(of: waiters[i].group), share: share(of: waiters[i].group), since: waiters[i].since))
            }
            ranked.sort { (a: Rank, b: Rank) -> Bool in
                if a.priority != b.priority { return a.priority > b.priority }
                if a.share != b.share { return a.share < b.share }
                return a.since < b.since
            }
            var granted = false
            for i in ranked.map(\.index) {
                do throws(PoolError) {
                    let (lease, made) = try grant(waiters[i].request, now: now, secret: waiters[i].secret)
                    waiters[i].state = .granted
                    waiters[i].lease = lease
                    waiters[i].lastSeen = now
                    record(now, "queue-granted", "\(waiters[i].id) after \(Int(((now - waiters[i].since) * 1000).rounded())) ms: \(lease.id)")
                    changes += made
                    granted = true
                    break
                } catch {
                    waiters[i].reason = error.message
                    // A head refused for anything but room (a node gone, a spec the pool no longer takes) leaves.
                    if error.code != .unavailable {
                        record(now, "queue-refused", "\(waiters[i].id): \(error.message)")
                        waiters[i].deadline = now
                    }
                    tried.insert(waiters[i].group)
                }
            }
            if !granted { break }
            // A grant changes shares: rank again, retrying every group.
            tried = []
        }
        return changes
    }

    /// Drops waiters gone silent and releases grants nobody collected.
    mutating func expireWaiters(now: Double) -> [Change] {
        var changes: [Change] = []
        for w in waiters where now - w.lastSeen > Self.waiterTimeout {
            waiters.removeAll { $0.id == w.id }
            record(now, "queue-lapsed", "\(w.id): its waiter went silent")
            if let lease = w.lease { changes += release(lease: lease.id, now: now, reason: "its waiter never collected it") }
        }
        return changes
    }

    private func priority(of group: String) -> Int { groups[group]?.priority ?? 0 }

    /// How much of its quota a group holds: the largest fraction over the amounts its quota names (its
    /// dominant share), so groups are served in proportion to their quotas. Groups without a quota count
    /// their vGPUs against 100.
    private func share(of group: String) -> Double {
        let u = usage(ofGroup: group)
        guard let q = groups[group]?.quota else { return Double(u.vgpus) / 100 }
        var share = 0.0
        if let m = q.memoryMiB { share = max(share, m > 0 ? Double(u.memoryMiB) / Double(m) : 1) }
        if let c = q.computePercent { share = max(share, c > 0 ? Double(u.computePercent) / Double(c) : 1) }
        if let v = q.vgpus { share = max(share, v > 0 ? Double(u.vgpus) / Double(v) : 1) }
        if q.memoryMiB == nil && q.computePercent == nil && q.vgpus == nil { share = Double(u.vgpus) / 100 }
        return share
    }
}
