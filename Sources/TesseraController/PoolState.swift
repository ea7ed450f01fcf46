import TesseraPlacement
import TesseraPoolAPI

/// The pool as the controller knows it: nodes and their GPUs, leases, reservations and recent events. A pure
/// state machine (no I/O, no clock, no locking): every transition takes the time and returns the durable
/// changes it made, which ``Controller`` writes to the ``LeaseStore`` before answering.
public struct PoolState: Sendable {
    /// A node's registration with what the controller has learned since.
    public struct NodeRecord: Sendable, Hashable {
        public var registration: NodeRegistration
        public var state: NodeInfo.State
        public var lastHeartbeat: Double
        public var usage: [GPUUsage] = []
        public var sessions: [SessionReport] = []
    }

    /// One change to durable state.
    public enum Change: Sendable, Hashable {
        case putNode(NodeRegistration)
        case putLease(Lease)
        case deleteLease(String)
        case putReservation(Reservation)
        case deleteReservation(String)
        /// `NODE` or `NODE/GPU` is cordoned (no new placements) or no longer.
        case putCordon(String)
        case deleteCordon(String)
        /// An administrator's action or attempt, for the audit log.
        case audit(AuditEntry)
        /// A group is defined (or redefined), or deleted.
        case putGroup(GroupDefinition)
        case deleteGroup(String)
        /// What an ended lease consumed, for usage accounting.
        case recordUsage(UsageRecord)

        /// Whether this is a usage record (which every ended lease writes).
        public var isUsageRecord: Bool { if case .recordUsage = self { true } else { false } }
    }

    /// Counts since the controller started, for `/metrics` (not durable: a restart starts them at zero, as
    /// Prometheus counters expect).
    public struct Tallies: Sendable, Hashable {
        /// Allocation requests (leases placed anew or claiming a reservation, and reservations) by result and
        /// reason: `granted`/`none`, or `refused` and the error's code.
        public var allocations: [AllocationOutcome: Int] = [:]
        /// Ended leases by a bounded reason (`released`, `session_ended`, `node_down`, …).
        public var leasesEnded: [String: Int] = [:]
        public var refusals: Int { allocations.filter { $0.key.result == "refused" }.values.reduce(0, +) }
    }

    /// One label pair of `tessera_allocation_requests_total`.
    public struct AllocationOutcome: Sendable, Hashable {
        public var result: String
        public var reason: String
    }

    /// Timings of the pool's life.
    public struct Timing: Sendable, Hashable {
        /// A node silent this long is down.
        public var nodeTimeout: Double
        /// A lease younger than this is not ended because its node does not report it yet.
        public var leaseGrace: Double
        public init(nodeTimeout: Double = 5, leaseGrace: Double = 5) { self.nodeTimeout = nodeTimeout; self.leaseGrace = leaseGrace }
    }

    public let strategy: PlacementStrategy
    public let timing: Timing
    public private(set) var nodes: [String: NodeRecord] = [:]
    public private(set) var leases: [String: Lease] = [:]
    public private(set) var reservations: [String: Reservation] = [:]
    public private(set) var events: [PoolEvent] = []
    /// Cordoned nodes (`NODE`) and GPUs (`NODE/INDEX`): nothing new is placed there.
    public internal(set) var cordons: Set<String> = []
    public internal(set) var tallies = Tallies()
    /// When each granted vGPU (lease id, position in the lease) last ran work, or its grant time.
    public private(set) var lastActive: [String: [Double]] = [:]
    /// Groups by name: quotas that leases and reservations of their members count against.
    public internal(set) var groups: [String: GroupDefinition] = [:] { didSet { indexMembers() } }
    /// Each listed user (uid or name) → the first group by name that lists it.
    var groupOfUser: [String: String] = [:]
    /// Requests waiting for room (and granted ones until their waiter collects them), in arrival order.
    public internal(set) var waiters: [Waiter] = []
    var nextWaiter: UInt64 = 1
    private var nextEvent = 1
    private var nextID: UInt64 = 1
    /// Chooses GPUs; owns the placement engine, a cache of `nodes` and grants.
    var placer: Placer
    private let maxEvents = 1000

    /// An empty pool.
    public init(strategy: PlacementStrategy = .engine(.tessera), timing: Timing = Timing(), now: Double) {
        self.strategy = strategy
        self.timing = timing
        placer = Placer(strategy: strategy)
    }

    /// The pool restored from durable state; restored nodes count as up until their timeout. Throws a
    /// `storage` error naming the first row that no running controller could have written (a corrupt or
    /// hand-edited state file), so the controller refuses to start instead of serving nonsense.
    public init(strategy: PlacementStrategy = .engine(.tessera), timing: Timing = Timing(), now: Double,
                nodes: [NodeRegistration], leases: [Lease], reservations: [Reservation], cordons: [String] = [],
                groups: [GroupDefinition] = []) throws(PoolError) {
        self.init(strategy: strategy, timing: timing, now: now)
        self.cordons = Set(cordons)
        for g in groups { self.groups[g.name] = g }
        indexMembers()
        for n in nodes {
            do throws(PoolError) { try Self.check(n) } catch {
                throw PoolError(.storage, "stored node \(n.name.isEmpty ? "(no name)" : n.name): \(error.message)")
            }
            self.nodes[n.name] = NodeRecord(registration: n, state: .up, lastHeartbeat: now)
        }
        for l in leases {
            do throws(PoolError) { try Self.check(l.vgpus) } catch { throw PoolError(.storage, "stored lease \(l.id): \(error.message)") }
            self.leases[l.id] = l
            lastActive[l.id] = l.vgpus.map { _ in now }
        }
        for r in reservations {
            do throws(PoolError) { try Self.check(r.vgpus) } catch { throw PoolError(.storage, "stored reservation \(r.id): \(error.message)") }
            self.reservations[r.id] = r
        }
        let highest = (leases.map(\.id) + reservations.map(\.id)).compactMap { UInt64($0.split(separator: "-").last ?? "") }.max() ?? 0
        nextID = highest + 1
        if !nodes.isEmpty || !leases.isEmpty { record(now, "restored", "\(nodes.count) nodes, \(leases.count) leases, \(reservations.count) reservations") }
    }

    /// Throws unless `registration` is a node the pool can hold.
    static func check(_ registration: NodeRegistration) throws(PoolError) {
        guard !registration.name.isEmpty, registration.name.count <= 253 else {
            throw PoolError(.invalidRequest, "a node needs a name of 1…253 characters")
        }
        guard Set(registration.gpus.map(\.index)).count == registration.gpus.count,
              registration.gpus.allSatisfy({ $0.memoryMiB > 0 && $0.memoryMiB <= Int(Int32.max) && $0.index >= 0 }) else {
            throw PoolError(.invalidRequest, "node \(registration.name): GPU indices must be distinct and memory positive (at most 2 PiB)")
        }
    }

    /// Throws unless every granted amount could have been granted.
    static func check(_ vgpus: [VirtualGPUAssignment]) throws(PoolError) {
        for v in vgpus {
            guard !v.node.isEmpty, v.gpu >= 0, v.memoryMiB >= 0, (0...100).contains(v.computePercent) else {
                throw PoolError(.invalidRequest, "vGPU \(v.node)/\(v.gpu) of \(v.memoryMiB) MiB, \(v.computePercent) % cannot have been granted")
            }
        }
    }

    // MARK: Nodes

    /// A node joins (or rejoins) the pool.
    public mutating func register(_ registration: NodeRegistration, now: Double) throws(PoolError) -> [Change] {
        try Self.check(registration)
        var changes: [Change] = []
        if let old = nodes[registration.name], Self.withoutUUIDs(old.registration.gpus) != Self.withoutUUIDs(registration.gpus) {
            // The node's GPUs changed: what was granted on the old ones is gone.
            changes += endGrants(onNode: registration.name, now: now, reason: "its GPUs changed", kind: "gpus_changed")
        }
        let rejoined = nodes[registration.name] != nil
        nodes[registration.name] = NodeRecord(registration: registration, state: .up, lastHeartbeat: now)
        placer.invalidate()
        record(now, "node-registered", "\(registration.name) \(rejoined ? "rejoined" : "joined") with \(registration.gpus.count) GPU(s)")
        return changes + [.putNode(registration)]
    }

    /// GPUs compared without the UUIDs that nodes of earlier releases did not report.
    private static func withoutUUIDs(_ gpus: [GPUDescription]) -> [GPUDescription] {
        gpus.map { var g = $0; g.uuid = nil; return g }
    }

    /// A node reports usage and sessions; the reply names leases it must end and whether to register again.
    public mutating func heartbeat(node name: String, _ beat: NodeHeartbeat, now: Double) -> (HeartbeatReply, [Change]) {
        guard var record = nodes[name] else { return (HeartbeatReply(endLeases: [], registerAgain: true), []) }
        if record.state == .down {
            record.state = .up
            placer.invalidate()
            self.record(now, "node-up", "\(name) is back")
        }
        record.lastHeartbeat = now
        record.usage = beat.gpus
        record.sessions = beat.sessions
        nodes[name] = record
        let reported = Set(beat.sessions.compactMap(\.lease))
        // Sessions under leases the controller does not hold (ended, or granted by a controller that lost them).
        let unknown = reported.filter { leases[$0] == nil }.sorted()
        var changes: [Change] = []
        // A node asks for a lease before it knows the program; name the lease after what the session reports.
        for report in beat.sessions {
            guard let id = report.lease, var lease = leases[id], lease.requester == name, lease.program.isEmpty else { continue }
            lease.program = report.program
            if lease.user == nil { lease.owner = "uid \(report.uid)" }
            leases[id] = lease
            changes.append(.putLease(lease))
        }
        // Leases this node asked for whose session is gone.
        let gone = leases.values.filter { $0.requester == name && !reported.contains($0.id) && now - $0.createdAt >= timing.leaseGrace }
        for lease in gone.sorted(by: { $0.id < $1.id }) {
            changes += release(lease: lease.id, now: now, reason: "its session ended", kind: "session_ended", endingReservation: false)
        }
        // vGPUs that ran work in the last second are active now.
        for report in beat.sessions {
            guard let id = report.lease, let lease = leases[id], var times = lastActive[id] else { continue }
            let busy = (report.vgpus ?? []).filter { $0.utilizationPercent > 0 }.map(\.gpu)
            for (position, v) in lease.vgpus.enumerated() where v.node == name && busy.contains(v.gpu) && position < times.count {
                times[position] = now
            }
            lastActive[id] = times
        }
        return (HeartbeatReply(endLeases: unknown, registerAgain: false), changes)
    }

    /// Marks nodes silent past the timeout down, ends their leases and reservations, and lets unclaimed
    /// reservations lapse.
    public mutating func expire(now: Double) -> [Change] {
        var changes: [Change] = []
        for name in nodes.keys.sorted() where nodes[name]!.state == .up && now - nodes[name]!.lastHeartbeat > timing.nodeTimeout {
            nodes[name]!.state = .down
            nodes[name]!.sessions = []
            nodes[name]!.usage = []
            placer.invalidate()
            record(now, "node-down", "\(name) silent for \(Int(now - nodes[name]!.lastHeartbeat)) s")
            changes += endGrants(onNode: name, now: now, reason: "node \(name) is down", kind: "node_down")
        }
        for r in reservations.values.sorted(by: { $0.id < $1.id }) where r.claimedBy == nil {
            if let e = r.expiresAt, e <= now {
                changes += dropReservation(r.id, now: now, reason: "expired")
            }
        }
        if !waiters.isEmpty { changes += expireWaiters(now: now) }
        return changes
    }

    private mutating func endGrants(onNode name: String, now: Double, reason: String, kind: String) -> [Change] {
        var changes: [Change] = []
        for l in leases.values.sorted(by: { $0.id < $1.id }) where l.vgpus.contains(where: { $0.node == name }) || l.requester == name {
            changes += release(lease: l.id, now: now, reason: reason, kind: kind, endingReservation: false)
        }
        for r in reservations.values.sorted(by: { $0.id < $1.id }) where r.vgpus.contains(where: { $0.node == name }) {
            changes += dropReservation(r.id, now: now, reason: reason)
        }
        return changes
    }

    // MARK: Leases

    /// Grants vGPUs for a session: claims a reservation, or places the spec anew.
    /// - Parameter secret: the lease's attach credential (random, from the caller: this type has no randomness),
    ///   which the requester hands to its program to attach to the lease's vGPUs on other nodes.
    public mutating func grant(_ request: LeaseRequest, now: Double, secret: String? = nil) throws(PoolError) -> (Lease, [Change]) {
        var changes: [Change] = []
        let vgpus: [VirtualGPUAssignment]
        if let rid = request.reservation {
            guard var r = reservations[rid] else { throw PoolError(.notFound, "no reservation \(rid)") }
            guard r.claimedBy == nil else { throw PoolError(.conflict, "reservation \(rid) is already claimed by \(r.claimedBy!)") }
            vgpus = r.vgpus
            let id = makeID("lease")
            r.claimedBy = id
            reservations[rid] = r
            changes.append(.putReservation(r))
            let lease = Lease(id: id, requester: request.requester, program: request.program, owner: request.identity?.user ?? request.owner,
                              spec: r.spec, vgpus: vgpus, createdAt: now, attachSecret: secret, identity: request.identity,
                              group: r.group, user: request.user)
            leases[id] = lease
            lastActive[id] = vgpus.map { _ in now }
            tallies.allocations[AllocationOutcome(result: "granted", reason: "none"), default: 0] += 1
            record(now, "lease-granted", "\(id) claims reservation \(rid) for \(describe(lease.program, lease.owner))")
            return (lease, changes + [.putLease(lease)])
        }
        let group = group(of: request)
        vgpus = try place(request.spec)
        do throws(PoolError) { try admit(vgpus, to: group, member: Self.member(of: request)) } catch {
            placer.free(vgpus, spec: request.spec)
            throw error
        }
        let id = makeID("lease")
        let lease = Lease(id: id, requester: request.requester, program: request.program, owner: request.identity?.user ?? request.owner,
                          spec: request.spec, vgpus: vgpus, createdAt: now, attachSecret: secret, identity: request.identity,
                          group: group?.name, user: request.user)
        leases[id] = lease
        lastActive[id] = vgpus.map { _ in now }
        tallies.allocations[AllocationOutcome(result: "granted", reason: "none"), default: 0] += 1
        record(now, "lease-granted", "\(id) for \(describe(lease.program, lease.owner)): \(summary(vgpus))")
        return (lease, [.putLease(lease)])
    }

    /// A program attaches to a lease's vGPUs on `node` (not its requester) with the lease's secret: allowed once
    /// per node. Returns the lease without its secret.
    public mutating func attach(lease id: String, _ request: LeaseAttachRequest, now: Double) throws(PoolError) -> (Lease, [Change]) {
        guard var lease = leases[id] else { throw PoolError(.notFound, "no lease \(id)") }
        guard let secret = lease.attachSecret, Self.sameSecret(secret, request.secret) else {
            throw PoolError(.unauthorized, "wrong attach credential for lease \(id)")
        }
        // Only a lease granted under a user token (tokenID) binds its attachments to that user: a lease's user
        // may also be just the name its node reported for a unix-socket program, which proves nothing.
        if lease.tokenID != nil, let user = lease.user, request.user != user {
            throw PoolError(.unauthorized, "lease \(id) belongs to user \(user); the attaching program must present that user's token")
        }
        guard request.node != lease.requester, lease.vgpus.contains(where: { $0.node == request.node }) else {
            throw PoolError(.conflict, "lease \(id) holds no vGPUs on node \(request.node) to attach to")
        }
        var attached = lease.attachedNodes ?? []
        guard !attached.contains(request.node) else { throw PoolError(.conflict, "lease \(id) is already attached on node \(request.node)") }
        attached.append(request.node)
        lease.attachedNodes = attached
        leases[id] = lease
        record(now, "lease-attached", "\(id) (\(describe(lease.program, lease.owner))) attached on \(request.node)")
        return (lease.redacted, [.putLease(lease)])
    }

    /// Compares secrets in time independent of where they differ.
    static func sameSecret(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// Ends a lease and frees what it holds (a claimed reservation ends with it, unless it is persistent: then
    /// it is unclaimed again and keeps the capacity). Unknown leases: nothing.
    public mutating func release(lease id: String, now: Double, reason: String = "released") -> [Change] {
        release(lease: id, now: now, reason: reason, kind: "released", endingReservation: false)
    }

    /// - Parameter kind: the bounded reason `tessera_leases_ended_total` counts it under.
    mutating func release(lease id: String, now: Double, reason: String, kind: String, endingReservation: Bool) -> [Change] {
        guard let lease = leases.removeValue(forKey: id) else { return [] }
        lastActive[id] = nil
        tallies.leasesEnded[kind, default: 0] += 1
        var changes: [Change] = [.deleteLease(id), .recordUsage(Self.usageRecord(of: lease, until: now))]
        if var r = reservations.values.first(where: { $0.claimedBy == id }) {
            if r.persistent && !endingReservation {
                r.claimedBy = nil
                reservations[r.id] = r
                record(now, "lease-ended", "\(id) (\(describe(lease.program, lease.owner))): \(reason); reservation \(r.id) is unclaimed again")
                return changes + [.putReservation(r)]
            }
            reservations[r.id] = nil
            changes.append(.deleteReservation(r.id))
        }
        placer.free(lease.vgpus, spec: lease.spec)
        record(now, "lease-ended", "\(id) (\(describe(lease.program, lease.owner))): \(reason)")
        return changes
    }

    // MARK: Reservations

    /// Holds capacity for a consumer until it is claimed, released or lapses.
    public mutating func reserve(_ request: ReservationRequest, now: Double) throws(PoolError) -> (Reservation, [Change]) {
        guard !request.consumer.isEmpty else { throw PoolError(.invalidRequest, "a reservation needs a consumer") }
        if let ttl = request.ttlSeconds, !(ttl > 0) { throw PoolError(.invalidRequest, "ttlSeconds must be positive") }
        guard ["share", "limit"].contains(request.spec.computeMode) else {
            throw PoolError(.invalidRequest, "computeMode must be share or limit, got '\(request.spec.computeMode)'")
        }
        if request.unique, let held = reservations(of: request.consumer).first {
            // The same request again (a retry, a second scheduler replica): what is held. Anything else: refused.
            guard held.spec == request.spec else {
                throw PoolError(.conflict, "\(request.consumer) already holds reservation \(held.id) (\(summary(held.vgpus)))")
            }
            return (held, [])
        }
        let group = group(of: request)
        let vgpus = try place(request.spec)
        do throws(PoolError) { try admit(vgpus, to: group, member: request.consumer) } catch {
            placer.free(vgpus, spec: request.spec)
            throw error
        }
        let r = Reservation(id: makeID("res"), consumer: request.consumer, spec: request.spec, vgpus: vgpus, createdAt: now,
                            expiresAt: request.ttlSeconds.map { now + $0 }, claimedBy: nil, displayName: request.displayName,
                            persistent: request.persistent, group: group?.name)
        reservations[r.id] = r
        tallies.allocations[AllocationOutcome(result: "granted", reason: "none"), default: 0] += 1
        record(now, "reserved", "\(r.id) for \(r.consumer): \(summary(vgpus))")
        return (r, [.putReservation(r)])
    }

    /// Releases a reservation; a claimed one ends with its lease instead.
    public mutating func releaseReservation(_ id: String, now: Double) throws(PoolError) -> [Change] {
        guard let r = reservations[id] else { throw PoolError(.notFound, "no reservation \(id)") }
        if let lease = r.claimedBy {
            return release(lease: lease, now: now, reason: "its reservation was released", kind: "reservation_released", endingReservation: true)
        }
        return dropReservation(id, now: now, reason: "released")
    }

    /// Sets when an unclaimed reservation lapses: `ttl` seconds from now, or never (`nil`). A claimed one does
    /// not lapse; its time is kept for when it is unclaimed again.
    public mutating func holdReservation(_ id: String, ttl: Double?, now: Double) throws(PoolError) -> (Reservation, [Change]) {
        guard var r = reservations[id] else { throw PoolError(.notFound, "no reservation \(id)") }
        if let ttl, !(ttl > 0) { throw PoolError(.invalidRequest, "ttlSeconds must be positive") }
        r.expiresAt = ttl.map { now + $0 }
        reservations[id] = r
        record(now, "reservation-held", "\(id) for \(r.consumer) \(ttl.map { "for \(Int($0)) s" } ?? "until released")")
        return (r, [.putReservation(r)])
    }

    /// The reservations of `consumer`, oldest first.
    public func reservations(of consumer: String) -> [Reservation] {
        reservations.values.filter { $0.consumer == consumer }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    mutating func dropReservation(_ id: String, now: Double, reason: String) -> [Change] {
        guard let r = reservations.removeValue(forKey: id) else { return [] }
        if r.claimedBy == nil { placer.free(r.vgpus, spec: r.spec) }
        record(now, "reservation-ended", "\(id) for \(r.consumer): \(reason)")
        return [.deleteReservation(id)]
    }

    // MARK: Views

    /// What is granted on each GPU (by leases and unclaimed reservations), keyed by node and index.
    public func granted() -> [GPUKey: (memoryMiB: Int, computePercent: Int)] {
        Self.granted(leases: leases, reservations: reservations)
    }

    private static func granted(leases: [String: Lease], reservations: [String: Reservation]) -> [GPUKey: (memoryMiB: Int, computePercent: Int)] {
        var g: [GPUKey: (memoryMiB: Int, computePercent: Int)] = [:]
        let held = leases.values.flatMap(\.vgpus) + reservations.values.filter { $0.claimedBy == nil }.flatMap(\.vgpus)
        for v in held {
            let k = GPUKey(node: v.node, index: v.gpu)
            g[k] = ((g[k]?.memoryMiB ?? 0) + v.memoryMiB, (g[k]?.computePercent ?? 0) + v.computePercent)
        }
        return g
    }

    /// Every GPU of every node with grants and usage, sorted by node and index.
    public func gpuInfos() -> [GPUInfo] {
        let g = granted()
        return nodes.keys.sorted().flatMap { name -> [GPUInfo] in
            let n = nodes[name]!
            return n.registration.gpus.sorted { $0.index < $1.index }.map { gpu in
                let u = n.usage.first { $0.index == gpu.index }
                let k = GPUKey(node: name, index: gpu.index)
                return GPUInfo(node: name, index: gpu.index, model: gpu.model, memoryMiB: gpu.memoryMiB,
                               multiprocessors: gpu.multiprocessors, healthy: gpu.healthy, nodeUp: n.state == .up,
                               grantedMemoryMiB: g[k]?.memoryMiB ?? 0, grantedComputePercent: g[k]?.computePercent ?? 0,
                               usedMemoryMiB: u?.usedMemoryMiB ?? 0, utilizationPercent: u?.utilizationPercent ?? 0,
                               cordoned: isCordoned(node: name, gpu: gpu.index), uuid: gpu.uuid)
            }
        }
    }

    public func nodeInfos() -> [NodeInfo] {
        nodes.keys.sorted().map { name in
            let n = nodes[name]!
            return NodeInfo(name: name, endpoint: n.registration.endpoint, state: n.state, lastHeartbeat: n.lastHeartbeat,
                            gpus: n.registration.gpus.count, sessions: n.sessions.count, cordoned: cordons.contains(name))
        }
    }

    public func summary() -> PoolSummary {
        let gpus = gpuInfos().filter(\.nodeUp)
        return PoolSummary(
            nodesUp: nodes.values.filter { $0.state == .up }.count, nodesDown: nodes.values.filter { $0.state == .down }.count,
            gpus: gpus.count, memoryMiB: gpus.reduce(0) { $0 + $1.memoryMiB }, grantedMemoryMiB: gpus.reduce(0) { $0 + $1.grantedMemoryMiB },
            computePercent: 100 * gpus.count, grantedComputePercent: gpus.reduce(0) { $0 + $1.grantedComputePercent },
            leases: leases.count, reservations: reservations.count, policy: strategy.description)
    }

    /// Events after `sequence`, oldest first.
    public func events(after sequence: Int) -> [PoolEvent] { events.filter { $0.sequence > sequence } }

    // MARK: Placement

    /// Chooses GPUs for a spec and takes them; throws with nothing taken when it does not fit.
    private mutating func place(_ spec: VirtualGPUSpec) throws(PoolError) -> [VirtualGPUAssignment] {
        let leases = self.leases, reservations = self.reservations
        return try placer.place(spec, nodes: nodes, cordons: cordons, granted: { Self.granted(leases: leases, reservations: reservations) })
    }

    // MARK: Helpers

    private mutating func makeID(_ prefix: String) -> String {
        defer { nextID += 1 }
        return "\(prefix)-\(nextID)"
    }

    mutating func record(_ now: Double, _ kind: String, _ message: String) {
        events.append(PoolEvent(sequence: nextEvent, time: now, kind: kind, message: message))
        nextEvent += 1
        if events.count > maxEvents { events.removeFirst(events.count - maxEvents) }
    }

    private func describe(_ program: String, _ owner: String) -> String {
        [program.isEmpty ? "a program" : program, owner.isEmpty ? nil : "of \(owner)"].compactMap { $0 }.joined(separator: " ")
    }

    private func summary(_ vgpus: [VirtualGPUAssignment]) -> String {
        vgpus.map { "\($0.node)/\($0.gpu) \($0.memoryMiB) MiB \($0.computePercent) %" }.joined(separator: ", ")
    }
}

/// A GPU of the pool: its node's name and its device index there.
public struct GPUKey: Hashable, Sendable {
    public var node: String
    public var index: Int
    public init(node: String, index: Int) { self.node = node; self.index = index }
}
