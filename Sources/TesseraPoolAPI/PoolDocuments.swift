/// The JSON documents of the controller's HTTP API (docs/openapi.yaml), shared by controller, nodes and CLI.
/// Memory is in MiB, compute in percent of one GPU, times in seconds since 1970.

/// One physical GPU as its node reports it.
public struct GPUDescription: Codable, Sendable, Hashable {
    public var index: Int
    public var model: String
    public var memoryMiB: Int
    public var multiprocessors: Int
    public var healthy: Bool
    /// The GPU's UUID as NVIDIA prints it (`GPU-…`); absent from nodes of earlier releases.
    public var uuid: String?
    public init(index: Int, model: String, memoryMiB: Int, multiprocessors: Int, healthy: Bool = true, uuid: String? = nil) {
        self.index = index; self.model = model; self.memoryMiB = memoryMiB
        self.multiprocessors = multiprocessors; self.healthy = healthy; self.uuid = uuid
    }
}

/// `POST /v1/nodes`: a node joins the pool (again, after a restart of either side).
public struct NodeRegistration: Codable, Sendable, Hashable {
    public var name: String
    /// `HOST:PORT` where runtimes on other machines reach this node; nil for a node that serves only itself.
    public var endpoint: String?
    public var gpus: [GPUDescription]
    /// `tessera node --page-idle-after`: sessions idle this many seconds may be paged out of device memory when
    /// a request does not fit, so the node's vGPU quotas may together exceed its GPUs' memory. Absent: the node
    /// does not page.
    public var pageIdleAfterSeconds: Double?
    public init(name: String, endpoint: String?, gpus: [GPUDescription], pageIdleAfterSeconds: Double? = nil) {
        self.name = name; self.endpoint = endpoint; self.gpus = gpus; self.pageIdleAfterSeconds = pageIdleAfterSeconds
    }
}

/// Where a session's device memory is, as its (paging) node reports it.
public struct SessionPaging: Codable, Sendable, Hashable {
    /// `resident`, `paging-out`, `paged`, `paging-in` or `waiting` (paged, its next call waits for room).
    public var state: String
    public var pagedMiB: Int
    /// Seconds since the session's last request ended.
    public var idleSeconds: Double
    public var pageOuts: Int
    public var pageIns: Int
    /// Durations of the last page-out and page-in (the latter from the call that needed it, waiting included).
    public var lastPageOutSeconds: Double
    public var lastPageInSeconds: Double
    public init(state: String, pagedMiB: Int, idleSeconds: Double, pageOuts: Int, pageIns: Int, lastPageOutSeconds: Double,
                lastPageInSeconds: Double) {
        self.state = state; self.pagedMiB = pagedMiB; self.idleSeconds = idleSeconds; self.pageOuts = pageOuts
        self.pageIns = pageIns; self.lastPageOutSeconds = lastPageOutSeconds; self.lastPageInSeconds = lastPageInSeconds
    }
}

/// What one GPU is doing now, as its node measures it.
public struct GPUUsage: Codable, Sendable, Hashable {
    public var index: Int
    public var usedMemoryMiB: Int
    public var utilizationPercent: Double
    public init(index: Int, usedMemoryMiB: Int, utilizationPercent: Double) {
        self.index = index; self.usedMemoryMiB = usedMemoryMiB; self.utilizationPercent = utilizationPercent
    }
}

/// One program session on a node and the lease it runs under.
public struct SessionReport: Codable, Sendable, Hashable {
    public var session: UInt64
    public var lease: String?
    public var program: String
    public var pid: Int
    public var uid: Int
    public var usedMemoryMiB: Int
    /// Achieved compute utilization of each of the session's vGPUs over the last second, in percent of its GPU.
    public var utilizationPercent: [Double]
    /// Each vGPU of the session on this node: its physical GPU and what it uses (absent from earlier nodes).
    public var vgpus: [VGPUUsage]?
    /// The session's paging, when its node pages.
    public var paging: SessionPaging?
    public init(session: UInt64, lease: String?, program: String, pid: Int, uid: Int, usedMemoryMiB: Int, utilizationPercent: [Double] = [],
                vgpus: [VGPUUsage]? = nil, paging: SessionPaging? = nil) {
        self.session = session; self.lease = lease; self.program = program; self.pid = pid; self.uid = uid
        self.usedMemoryMiB = usedMemoryMiB; self.utilizationPercent = utilizationPercent; self.vgpus = vgpus; self.paging = paging
    }

    enum CodingKeys: String, CodingKey { case session, lease, program, pid, uid, usedMemoryMiB, utilizationPercent, vgpus, paging }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        session = try c.decode(UInt64.self, forKey: .session)
        lease = try c.decodeIfPresent(String.self, forKey: .lease)
        program = try c.decode(String.self, forKey: .program)
        pid = try c.decode(Int.self, forKey: .pid)
        uid = try c.decode(Int.self, forKey: .uid)
        usedMemoryMiB = try c.decode(Int.self, forKey: .usedMemoryMiB)
        // Nodes of the first release do not report it.
        utilizationPercent = try c.decodeIfPresent([Double].self, forKey: .utilizationPercent) ?? []
        vgpus = try c.decodeIfPresent([VGPUUsage].self, forKey: .vgpus)
        paging = try c.decodeIfPresent(SessionPaging.self, forKey: .paging)
    }
}

/// What one vGPU of a session uses, as its node measures it.
public struct VGPUUsage: Codable, Sendable, Hashable {
    /// The physical GPU's device index on the node.
    public var gpu: Int
    public var usedMemoryMiB: Int
    /// Achieved compute over the last second, in percent of the GPU.
    public var utilizationPercent: Double
    public init(gpu: Int, usedMemoryMiB: Int, utilizationPercent: Double) {
        self.gpu = gpu; self.usedMemoryMiB = usedMemoryMiB; self.utilizationPercent = utilizationPercent
    }
}

/// `POST /v1/nodes/{name}/heartbeat`.
public struct NodeHeartbeat: Codable, Sendable, Hashable {
    public var gpus: [GPUUsage]
    public var sessions: [SessionReport]
    public init(gpus: [GPUUsage], sessions: [SessionReport]) { self.gpus = gpus; self.sessions = sessions }
}

/// The controller's answer to a heartbeat: leases the node must end (sessions the controller does not know or
/// has ended), and whether the node must register again (the controller forgot it).
public struct HeartbeatReply: Codable, Sendable, Hashable {
    public var endLeases: [String]
    public var registerAgain: Bool
    public init(endLeases: [String], registerAgain: Bool) { self.endLeases = endLeases; self.registerAgain = registerAgain }
}

/// A node as the controller knows it.
public struct NodeInfo: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable { case up, down }
    public var name: String
    public var endpoint: String?
    public var state: State
    public var lastHeartbeat: Double
    public var gpus: Int
    public var sessions: Int
    /// No new vGPUs are placed on the node (an administrator cordoned or drained it); absent means false.
    public var cordoned: Bool?
    public init(name: String, endpoint: String?, state: State, lastHeartbeat: Double, gpus: Int, sessions: Int, cordoned: Bool? = nil) {
        self.name = name; self.endpoint = endpoint; self.state = state; self.lastHeartbeat = lastHeartbeat
        self.gpus = gpus; self.sessions = sessions; self.cordoned = cordoned
    }
}

/// A GPU with what is granted on it (leases and reservations) and what is in use.
public struct GPUInfo: Codable, Sendable, Hashable {
    public var node: String
    public var index: Int
    public var model: String
    public var memoryMiB: Int
    public var multiprocessors: Int
    public var healthy: Bool
    public var nodeUp: Bool
    public var grantedMemoryMiB: Int
    public var grantedComputePercent: Int
    public var usedMemoryMiB: Int
    public var utilizationPercent: Double
    /// No new vGPUs are placed on it: it or its node is cordoned; absent means false.
    public var cordoned: Bool?
    public var uuid: String?
    public init(node: String, index: Int, model: String, memoryMiB: Int, multiprocessors: Int, healthy: Bool, nodeUp: Bool,
                grantedMemoryMiB: Int, grantedComputePercent: Int, usedMemoryMiB: Int, utilizationPercent: Double,
                cordoned: Bool? = nil, uuid: String? = nil) {
        self.node = node; self.index = index; self.model = model; self.memoryMiB = memoryMiB
        self.multiprocessors = multiprocessors; self.healthy = healthy; self.nodeUp = nodeUp
        self.grantedMemoryMiB = grantedMemoryMiB; self.grantedComputePercent = grantedComputePercent
        self.usedMemoryMiB = usedMemoryMiB; self.utilizationPercent = utilizationPercent; self.cordoned = cordoned; self.uuid = uuid
    }
}

/// What a program (or a reservation) asks of the pool.
public struct VirtualGPUSpec: Codable, Sendable, Hashable {
    public var vgpus: Int
    public var memoryMiB: Int
    /// Guaranteed compute share of each vGPU, 1…100 % of its GPU; 0 is best effort: it reserves nothing, is
    /// never refused for compute, and runs on the GPU's idle time with the smallest weight. A document that
    /// leaves it out asks for best effort.
    public var computePercent: Int
    /// Each vGPU is a whole, otherwise idle GPU (memory and compute are then the GPU's).
    public var wholeGPU: Bool
    /// All vGPUs on one node (`true`) or anywhere in the pool.
    public var sameNode: Bool
    /// GPU models accepted; empty accepts any.
    public var allowedModels: [String]
    /// GPU models refused.
    public var deniedModels: [String]
    /// Only this node (a node placing its own local requests without remote endpoints).
    public var node: String?
    /// Put as many vGPUs as fit on this node first (the node where the program runs), the rest anywhere.
    public var preferredNode: String?
    /// How the compute share is enforced: `"share"` (a guaranteed share, idle time of others usable) or
    /// `"limit"` (a hard cap).
    public var computeMode: String
    /// Each vGPU on its own GPU (with `sameNode`: distinct GPUs of one node), as multi-GPU programs expect.
    public var distinctGPUs: Bool
    /// All vGPUs on one GPU.
    public var sameGPU: Bool
    public init(vgpus: Int = 1, memoryMiB: Int = 1024, computePercent: Int = 10, wholeGPU: Bool = false, sameNode: Bool = false,
                allowedModels: [String] = [], deniedModels: [String] = [], node: String? = nil, preferredNode: String? = nil,
                computeMode: String = "share", distinctGPUs: Bool = false, sameGPU: Bool = false) {
        self.vgpus = vgpus; self.memoryMiB = memoryMiB; self.computePercent = computePercent; self.wholeGPU = wholeGPU
        self.sameNode = sameNode; self.allowedModels = allowedModels; self.deniedModels = deniedModels; self.node = node
        self.preferredNode = preferredNode; self.computeMode = computeMode; self.distinctGPUs = distinctGPUs; self.sameGPU = sameGPU
    }
}

/// `POST /v1/leases`: vGPUs for a session, or the claim of a reservation.
public struct LeaseRequest: Codable, Sendable, Hashable {
    public var spec: VirtualGPUSpec
    /// Who asks: the node where the program runs, and what it knows of the program.
    public var requester: String
    public var program: String
    public var owner: String
    /// Claim this reservation's capacity instead of placing anew.
    public var reservation: String?
    /// Who the program proved to be with a user token (``UserToken``), when it did; absent for sessions known
    /// by their kernel identity (a unix socket) or anonymous ones.
    public var identity: TokenIdentity?
    /// The program's user name as its node sees it (group membership by name); nil when unknown.
    public var user: String?
    public init(spec: VirtualGPUSpec, requester: String, program: String = "", owner: String = "", reservation: String? = nil,
                identity: TokenIdentity? = nil, user: String? = nil) {
        self.spec = spec; self.requester = requester; self.program = program; self.owner = owner; self.reservation = reservation
        self.identity = identity
        self.user = identity?.user ?? user
    }
}

/// One granted vGPU: a slice of one physical GPU.
public struct VirtualGPUAssignment: Codable, Sendable, Hashable {
    public var node: String
    public var gpu: Int
    public var memoryMiB: Int
    public var computePercent: Int
    /// Where a runtime on another machine reaches the node.
    public var endpoint: String?
    public init(node: String, gpu: Int, memoryMiB: Int, computePercent: Int, endpoint: String?) {
        self.node = node; self.gpu = gpu; self.memoryMiB = memoryMiB; self.computePercent = computePercent; self.endpoint = endpoint
    }
}

/// Which slices of which GPUs serve one session.
public struct Lease: Codable, Sendable, Hashable {
    public var id: String
    public var requester: String
    public var program: String
    public var owner: String
    public var spec: VirtualGPUSpec
    public var vgpus: [VirtualGPUAssignment]
    public var createdAt: Double
    /// The one-time credential with which the program attaches to the lease's vGPUs on other nodes. Only the
    /// reply to the request that created the lease carries it; every other view leaves it out.
    public var attachSecret: String?
    /// Nodes other than the requester where the program has attached (each attaches once).
    public var attachedNodes: [String]?
    /// The user: the one the program proved with a user token, else the user name its node reported.
    public var user: String?
    /// The group whose quota it counts against, else the group its token names; nil for none.
    public var group: String?
    /// The token that proved it: revoking the token ends the lease.
    public var tokenID: String?
    public init(id: String, requester: String, program: String, owner: String, spec: VirtualGPUSpec,
                vgpus: [VirtualGPUAssignment], createdAt: Double, attachSecret: String? = nil, attachedNodes: [String]? = nil,
                identity: TokenIdentity? = nil, group: String? = nil, user: String? = nil) {
        self.id = id; self.requester = requester; self.program = program; self.owner = owner; self.spec = spec
        self.vgpus = vgpus; self.createdAt = createdAt; self.attachSecret = attachSecret; self.attachedNodes = attachedNodes
        self.user = identity?.user ?? user; self.group = group ?? identity?.group; self.tokenID = identity?.tokenID
    }

    /// The lease without its attach secret, as listings show it.
    public var redacted: Lease {
        var l = self
        l.attachSecret = nil
        return l
    }
}

/// `POST /v1/leases/{id}/attach`: a node checks that a program may attach to the lease's vGPUs on it.
public struct LeaseAttachRequest: Codable, Sendable, Hashable {
    /// The node the program attaches to.
    public var node: String
    /// The secret the program presented.
    public var secret: String
    /// The user the attaching program proved with its token, if it presented one. A lease granted to a
    /// token's user attaches only for that user.
    public var user: String?
    public init(node: String, secret: String, user: String? = nil) { self.node = node; self.secret = secret; self.user = user }
}

/// `POST /v1/reservations`: hold capacity for a named consumer.
public struct ReservationRequest: Codable, Sendable, Hashable {
    /// Who the capacity is for, e.g. `pod/<UID>` for a Kubernetes pod.
    public var consumer: String
    public var spec: VirtualGPUSpec
    /// Seconds until the reservation lapses unless claimed; nil holds it until released.
    public var ttlSeconds: Double?
    /// The consumer in words (a pod's `namespace/name`).
    public var displayName: String?
    /// At most one reservation for this consumer: asking again with the same spec returns the one held, with a
    /// different spec is a conflict. Makes a retried request (or a second scheduler replica) harmless.
    public var unique: Bool
    /// The reservation outlives its leases: when the claiming lease ends it is unclaimed again and keeps its
    /// capacity (a pod's programs come and go; the pod's reservation stays until it is released).
    public var persistent: Bool
    /// The pod's labels, for groups that select pods by label.
    public var labels: [String: String]?
    public init(consumer: String, spec: VirtualGPUSpec, ttlSeconds: Double? = nil, displayName: String? = nil,
                unique: Bool = false, persistent: Bool = false, labels: [String: String]? = nil) {
        self.consumer = consumer; self.spec = spec; self.ttlSeconds = ttlSeconds
        self.displayName = displayName; self.unique = unique; self.persistent = persistent; self.labels = labels
    }

    /// `displayName`, `unique`, `persistent` and `labels` may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(consumer: try c.decode(String.self, forKey: .consumer), spec: try c.decode(VirtualGPUSpec.self, forKey: .spec),
                  ttlSeconds: try c.decodeIfPresent(Double.self, forKey: .ttlSeconds),
                  displayName: try c.decodeIfPresent(String.self, forKey: .displayName),
                  unique: try c.decodeIfPresent(Bool.self, forKey: .unique) ?? false,
                  persistent: try c.decodeIfPresent(Bool.self, forKey: .persistent) ?? false,
                  labels: try c.decodeIfPresent([String: String].self, forKey: .labels))
    }
}

/// `POST /v1/reservations/{id}/hold`: a new lapse time for an unclaimed reservation.
public struct ReservationHold: Codable, Sendable, Hashable {
    /// Seconds from now until it lapses unless claimed; nil holds it until released.
    public var ttlSeconds: Double?
    public init(ttlSeconds: Double?) { self.ttlSeconds = ttlSeconds }
}

/// Capacity held for a consumer (such as a Kubernetes pod, by UID) until a program claims it.
public struct Reservation: Codable, Sendable, Hashable {
    public var id: String
    public var consumer: String
    public var spec: VirtualGPUSpec
    public var vgpus: [VirtualGPUAssignment]
    public var createdAt: Double
    public var expiresAt: Double?
    /// The lease that claimed it, once claimed.
    public var claimedBy: String?
    /// The consumer in words.
    public var displayName: String?
    /// Whether it outlives its leases (see ``ReservationRequest/persistent``).
    public var persistent: Bool
    /// The group whose quota it counts against; nil for none.
    public var group: String?
    public init(id: String, consumer: String, spec: VirtualGPUSpec, vgpus: [VirtualGPUAssignment], createdAt: Double,
                expiresAt: Double?, claimedBy: String?, displayName: String? = nil, persistent: Bool = false, group: String? = nil) {
        self.id = id; self.consumer = consumer; self.spec = spec; self.vgpus = vgpus; self.createdAt = createdAt
        self.expiresAt = expiresAt; self.claimedBy = claimedBy; self.displayName = displayName; self.persistent = persistent
        self.group = group
    }

    /// Reservations stored by earlier releases lack `displayName` and `persistent`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), consumer: try c.decode(String.self, forKey: .consumer),
                  spec: try c.decode(VirtualGPUSpec.self, forKey: .spec), vgpus: try c.decode([VirtualGPUAssignment].self, forKey: .vgpus),
                  createdAt: try c.decode(Double.self, forKey: .createdAt), expiresAt: try c.decodeIfPresent(Double.self, forKey: .expiresAt),
                  claimedBy: try c.decodeIfPresent(String.self, forKey: .claimedBy),
                  displayName: try c.decodeIfPresent(String.self, forKey: .displayName),
                  persistent: try c.decodeIfPresent(Bool.self, forKey: .persistent) ?? false,
                  group: try c.decodeIfPresent(String.self, forKey: .group))
    }
}

/// Something that happened in the pool.
public struct PoolEvent: Codable, Sendable, Hashable {
    public var sequence: Int
    public var time: Double
    public var kind: String
    public var message: String
    public init(sequence: Int, time: Double, kind: String, message: String) {
        self.sequence = sequence; self.time = time; self.kind = kind; self.message = message
    }
}

/// `GET /v1/status`: the pool at a glance.
public struct PoolSummary: Codable, Sendable, Hashable {
    public var nodesUp: Int
    public var nodesDown: Int
    public var gpus: Int
    public var memoryMiB: Int
    public var grantedMemoryMiB: Int
    public var computePercent: Int
    public var grantedComputePercent: Int
    public var leases: Int
    public var reservations: Int
    public var policy: String
    public init(nodesUp: Int, nodesDown: Int, gpus: Int, memoryMiB: Int, grantedMemoryMiB: Int, computePercent: Int,
                grantedComputePercent: Int, leases: Int, reservations: Int, policy: String) {
        self.nodesUp = nodesUp; self.nodesDown = nodesDown; self.gpus = gpus; self.memoryMiB = memoryMiB
        self.grantedMemoryMiB = grantedMemoryMiB; self.computePercent = computePercent
        self.grantedComputePercent = grantedComputePercent; self.leases = leases; self.reservations = reservations
        self.policy = policy
    }
}

/// `GET /v1/sessions`: every session the nodes report, with its lease.
public struct SessionInfo: Codable, Sendable, Hashable {
    public var node: String
    public var report: SessionReport
    public init(node: String, report: SessionReport) { self.node = node; self.report = report }

    /// The session's pool-wide identifier, `NODE:SESSION` (session numbers are per node).
    public var id: String { "\(node):\(report.session)" }
}

/// `GET /v1/snapshot`: the whole pool read at one instant, so that its parts agree (counts, GPUs, sessions,
/// leases); `tessera top` and the dashboard show it.
public struct PoolSnapshot: Codable, Sendable, Hashable {
    public var time: Double
    public var summary: PoolSummary
    public var nodes: [NodeInfo]
    public var gpus: [GPUInfo]
    public var sessions: [SessionInfo]
    public var leases: [Lease]
    public var reservations: [Reservation]
    /// Refused allocation requests since the controller started.
    public var refusals: Int
    public init(time: Double, summary: PoolSummary, nodes: [NodeInfo], gpus: [GPUInfo], sessions: [SessionInfo], leases: [Lease],
                reservations: [Reservation], refusals: Int) {
        self.time = time; self.summary = summary; self.nodes = nodes; self.gpus = gpus; self.sessions = sessions
        self.leases = leases; self.reservations = reservations; self.refusals = refusals
    }
}

/// One sample of the controller's history ring (`GET /v1/history`): pool-wide totals at one time.
public struct PoolSample: Codable, Sendable, Hashable {
    public var time: Double
    public var memoryMiB: Int
    public var grantedMemoryMiB: Int
    public var usedMemoryMiB: Int
    public var computePercent: Int
    public var grantedComputePercent: Int
    /// Sum over GPUs of their utilization, in percent of one GPU.
    public var utilizationPercent: Double
    public var leases: Int
    public var refusals: Int
    public init(time: Double, memoryMiB: Int, grantedMemoryMiB: Int, usedMemoryMiB: Int, computePercent: Int, grantedComputePercent: Int,
                utilizationPercent: Double, leases: Int, refusals: Int) {
        self.time = time; self.memoryMiB = memoryMiB; self.grantedMemoryMiB = grantedMemoryMiB; self.usedMemoryMiB = usedMemoryMiB
        self.computePercent = computePercent; self.grantedComputePercent = grantedComputePercent
        self.utilizationPercent = utilizationPercent; self.leases = leases; self.refusals = refusals
    }
}

/// An administrator's action, or an attempt at one, as the audit log keeps it (`GET /v1/audit`).
public struct AuditEntry: Codable, Sendable, Hashable {
    public var time: Double
    /// `cordon`, `uncordon`, `drain` or `end-lease`.
    public var action: String
    /// `NODE`, `NODE/GPU` or a lease id.
    public var target: String
    /// The caller's role (`admin`, `metrics`, …).
    public var caller: String
    /// `done` or `refused`.
    public var outcome: String
    public var message: String
    public init(time: Double, action: String, target: String, caller: String, outcome: String, message: String) {
        self.time = time; self.action = action; self.target = target; self.caller = caller; self.outcome = outcome; self.message = message
    }
}

/// The reply to an administrator's action: what it did.
public struct AdminActionReply: Codable, Sendable, Hashable {
    public var action: String
    public var target: String
    /// Leases the action ended (drain, end-lease).
    public var endedLeases: [String]
    public var message: String
    public init(action: String, target: String, endedLeases: [String], message: String) {
        self.action = action; self.target = target; self.endedLeases = endedLeases; self.message = message
    }
}

/// The body of every error reply.
public struct APIErrorBody: Codable, Sendable, Hashable {
    public var code: String
    public var message: String
    public init(code: String, message: String) { self.code = code; self.message = message }
}

extension VirtualGPUSpec {
    /// Absent fields take their defaults, so `{"memoryMiB": 512}` is a whole request.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VirtualGPUSpec()
        self.init(vgpus: try c.decodeIfPresent(Int.self, forKey: .vgpus) ?? d.vgpus,
                  memoryMiB: try c.decodeIfPresent(Int.self, forKey: .memoryMiB) ?? d.memoryMiB,
                  computePercent: try c.decodeIfPresent(Int.self, forKey: .computePercent) ?? 0,
                  wholeGPU: try c.decodeIfPresent(Bool.self, forKey: .wholeGPU) ?? false,
                  sameNode: try c.decodeIfPresent(Bool.self, forKey: .sameNode) ?? false,
                  allowedModels: try c.decodeIfPresent([String].self, forKey: .allowedModels) ?? [],
                  deniedModels: try c.decodeIfPresent([String].self, forKey: .deniedModels) ?? [],
                  node: try c.decodeIfPresent(String.self, forKey: .node),
                  preferredNode: try c.decodeIfPresent(String.self, forKey: .preferredNode),
                  computeMode: try c.decodeIfPresent(String.self, forKey: .computeMode) ?? d.computeMode,
                  distinctGPUs: try c.decodeIfPresent(Bool.self, forKey: .distinctGPUs) ?? false,
                  sameGPU: try c.decodeIfPresent(Bool.self, forKey: .sameGPU) ?? false)
    }
}

extension LeaseRequest {
    /// `program`, `owner` and `reservation` may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(spec: try c.decode(VirtualGPUSpec.self, forKey: .spec), requester: try c.decode(String.self, forKey: .requester),
                  program: try c.decodeIfPresent(String.self, forKey: .program) ?? "",
                  owner: try c.decodeIfPresent(String.self, forKey: .owner) ?? "",
                  reservation: try c.decodeIfPresent(String.self, forKey: .reservation),
                  identity: try c.decodeIfPresent(TokenIdentity.self, forKey: .identity),
                  user: try c.decodeIfPresent(String.self, forKey: .user))
    }
}
