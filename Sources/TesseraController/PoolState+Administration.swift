import TesseraPoolAPI

/// Administrators' actions on the pool: cordons (no new placements on a node or GPU), drains (a cordon that also
/// ends what runs there) and ending a lease; and refusals, which the metrics and the event feed count.
extension PoolState {
    /// A node or one of its GPUs, parsed from `NODE` or `NODE/INDEX`.
    public struct Target: Sendable, Hashable, CustomStringConvertible {
        public var node: String
        public var gpu: Int?
        public var description: String { gpu.map { "\(node)/\($0)" } ?? node }
    }

    /// Parses `NODE` or `NODE/INDEX` against the pool: the node must be known, the GPU one of its own.
    public func target(_ text: String) throws(PoolError) -> Target {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else {
            throw PoolError(.invalidRequest, "a target is NODE or NODE/GPU, got '\(text)'")
        }
        guard let record = nodes[parts[0]] else { throw PoolError(.notFound, "no node \(parts[0])") }
        guard parts.count == 2 else { return Target(node: parts[0], gpu: nil) }
        guard let index = Int(parts[1]), record.registration.gpus.contains(where: { $0.index == index }) else {
            throw PoolError(.notFound, "node \(parts[0]) has no GPU \(parts[1])")
        }
        return Target(node: parts[0], gpu: index)
    }

    /// Whether nothing new may be placed on this GPU (it or its node is cordoned).
    public func isCordoned(node: String, gpu: Int) -> Bool {
        cordons.contains(node) || cordons.contains("\(node)/\(gpu)")
    }

    /// Stops placing new vGPUs on the target; what runs there keeps running.
    public mutating func cordon(_ target: Target, now: Double) -> (AdminActionReply, [Change]) {
        let key = target.description
        let added = cordons.insert(key).inserted
        if added {
            placer.invalidate()
            record(now, "cordoned", "\(key): no new vGPUs are placed there")
        }
        let message = added ? "\(key) cordoned" : "\(key) was already cordoned"
        return (AdminActionReply(action: "cordon", target: key, endedLeases: [], message: message), added ? [.putCordon(key)] : [])
    }

    /// Places on the target again. Uncordoning a node lifts its GPUs' cordons too.
    public mutating func uncordon(_ target: Target, now: Double) -> (AdminActionReply, [Change]) {
        let key = target.description
        let lifted = cordons.filter { $0 == key || (target.gpu == nil && $0.hasPrefix(key + "/")) }.sorted()
        cordons.subtract(lifted)
        if !lifted.isEmpty {
            placer.invalidate()
            record(now, "uncordoned", "\(lifted.joined(separator: ", ")): vGPUs are placed there again")
        }
        let message = lifted.isEmpty ? "\(key) was not cordoned" : "\(lifted.joined(separator: ", ")) uncordoned"
        return (AdminActionReply(action: "uncordon", target: key, endedLeases: [], message: message), lifted.map { .deleteCordon($0) })
    }

    /// Cordons the target and ends every lease with a vGPU there (their nodes end the sessions on the next
    /// heartbeat) and every unclaimed reservation there.
    public mutating func drain(_ target: Target, now: Double) -> (AdminActionReply, [Change]) {
        var (reply, changes) = cordon(target, now: now)
        func on(_ v: VirtualGPUAssignment) -> Bool { v.node == target.node && (target.gpu == nil || v.gpu == target.gpu) }
        let ending = leases.values.filter { $0.vgpus.contains(where: on) }.map(\.id).sorted()
        for id in ending {
            changes += release(lease: id, now: now, reason: "\(target) was drained by an administrator", kind: "drained", endingReservation: false)
        }
        for r in reservations.values.sorted(by: { $0.id < $1.id }) where r.claimedBy == nil && r.vgpus.contains(where: on) {
            changes += dropReservation(r.id, now: now, reason: "\(target) was drained")
        }
        reply = AdminActionReply(action: "drain", target: target.description, endedLeases: ending,
                                 message: "\(target) cordoned and drained: \(ending.count) lease(s) ended")
        return (reply, changes)
    }

    /// Ends a lease at an administrator's request; its node ends the session on its next heartbeat.
    public mutating func endLease(_ id: String, now: Double) throws(PoolError) -> (AdminActionReply, [Change]) {
        guard leases[id] != nil else { throw PoolError(.notFound, "no lease \(id)") }
        let changes = release(lease: id, now: now, reason: "ended by an administrator", kind: "ended_by_admin", endingReservation: false)
        return (AdminActionReply(action: "end-lease", target: id, endedLeases: [id], message: "lease \(id) ended"), changes)
    }

    /// Counts a refused allocation request and puts it in the event feed with its reason.
    public mutating func recordRefusal(_ error: PoolError, of what: String, now: Double) {
        tallies.allocations[AllocationOutcome(result: "refused", reason: error.code.rawValue), default: 0] += 1
        record(now, "refused", "\(what): \(error.message)")
    }

    /// An audit entry as a change (written with the action's own changes).
    public mutating func audit(_ entry: AuditEntry) -> [Change] {
        record(entry.time, entry.outcome == "done" ? "admin-action" : "admin-refused",
               "\(entry.action) \(entry.target) by \(entry.caller): \(entry.message)")
        return [.audit(entry)]
    }

    /// The whole pool at once.
    public func snapshot(now: Double) -> PoolSnapshot {
        PoolSnapshot(
            time: now, summary: summary(), nodes: nodeInfos(), gpus: gpuInfos(),
            sessions: nodes.keys.sorted().flatMap { n in nodes[n]!.sessions.map { SessionInfo(node: n, report: $0) } },
            leases: leases.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.redacted),
            reservations: reservations.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) },
            refusals: tallies.refusals)
    }

    /// Pool-wide totals for the history ring.
    public func sample(now: Double) -> PoolSample {
        let gpus = gpuInfos().filter(\.nodeUp)
        return PoolSample(
            time: now, memoryMiB: gpus.reduce(0) { $0 + $1.memoryMiB }, grantedMemoryMiB: gpus.reduce(0) { $0 + $1.grantedMemoryMiB },
            usedMemoryMiB: gpus.reduce(0) { $0 + $1.usedMemoryMiB }, computePercent: 100 * gpus.count,
            grantedComputePercent: gpus.reduce(0) { $0 + $1.grantedComputePercent },
            utilizationPercent: gpus.reduce(0) { $0 + min(100, $1.utilizationPercent) }, leases: leases.count, refusals: tallies.refusals)
    }
}
