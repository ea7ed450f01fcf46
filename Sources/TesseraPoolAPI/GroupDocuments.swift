/// Amounts of the pool a group (or one of its members) may hold at once. An absent amount is not limited.
public struct GroupQuota: Codable, Sendable, Hashable {
    /// GPU memory in MiB, summed over every vGPU held.
    public var memoryMiB: Int?
    /// Compute shares in percent of one GPU, summed (300 is three whole GPUs' worth).
    public var computePercent: Int?
    /// vGPUs held.
    public var vgpus: Int?
    public init(memoryMiB: Int? = nil, computePercent: Int? = nil, vgpus: Int? = nil) {
        self.memoryMiB = memoryMiB; self.computePercent = computePercent; self.vgpus = vgpus
    }
}

/// Who belongs to a group: unix users (by uid or by name, as the nodes see them), Kubernetes namespaces, and
/// pods whose labels match a selector (every key with its value).
public struct GroupMembers: Codable, Sendable, Hashable {
    /// `1000` (a uid) or `alice` (a user name).
    public var users: [String]
    public var namespaces: [String]
    /// Each selector matches a pod carrying all of its labels.
    public var podSelectors: [[String: String]]
    public init(users: [String] = [], namespaces: [String] = [], podSelectors: [[String: String]] = []) {
        self.users = users; self.namespaces = namespaces; self.podSelectors = podSelectors
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(users: try c.decodeIfPresent([String].self, forKey: .users) ?? [],
                  namespaces: try c.decodeIfPresent([String].self, forKey: .namespaces) ?? [],
                  podSelectors: try c.decodeIfPresent([[String: String]].self, forKey: .podSelectors) ?? [])
    }
}

/// A course or team: its members share a quota. Requests of its members beyond the quota wait or are refused,
/// naming the group and the limit.
public struct GroupDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var members: GroupMembers
    /// What the whole group may hold at once.
    public var quota: GroupQuota
    /// What each member may hold at once; nil for no per-member limit.
    public var memberLimit: GroupQuota?
    /// Groups of higher priority are served first from the queue; equal priorities share by quota weight.
    public var priority: Int
    public init(name: String, members: GroupMembers = GroupMembers(), quota: GroupQuota = GroupQuota(), memberLimit: GroupQuota? = nil,
                priority: Int = 0) {
        self.name = name; self.members = members; self.quota = quota; self.memberLimit = memberLimit; self.priority = priority
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name),
                  members: try c.decodeIfPresent(GroupMembers.self, forKey: .members) ?? GroupMembers(),
                  quota: try c.decodeIfPresent(GroupQuota.self, forKey: .quota) ?? GroupQuota(),
                  memberLimit: try c.decodeIfPresent(GroupQuota.self, forKey: .memberLimit),
                  priority: try c.decodeIfPresent(Int.self, forKey: .priority) ?? 0)
    }
}

/// `PUT /v1/groups` (and `tessera groups apply -f`): the complete set of groups; groups not named are deleted.
public struct GroupsDocument: Codable, Sendable, Hashable {
    public var groups: [GroupDefinition]
    public init(groups: [GroupDefinition]) { self.groups = groups }
}

/// What is held now: memory in MiB, compute in percent, vGPUs.
public struct GroupUsage: Codable, Sendable, Hashable {
    public var memoryMiB: Int
    public var computePercent: Int
    public var vgpus: Int
    public init(memoryMiB: Int = 0, computePercent: Int = 0, vgpus: Int = 0) {
        self.memoryMiB = memoryMiB; self.computePercent = computePercent; self.vgpus = vgpus
    }
}

/// `GET /v1/groups`: a group with what it holds now and how many of its requests wait.
public struct GroupInfo: Codable, Sendable, Hashable {
    public var group: GroupDefinition
    public var used: GroupUsage
    public var waiting: Int
    public init(group: GroupDefinition, used: GroupUsage, waiting: Int) { self.group = group; self.used = used; self.waiting = waiting }
}

/// `POST /v1/queue`: a lease request that may wait up to `waitSeconds` for room.
public struct QueueRequest: Codable, Sendable, Hashable {
    public var lease: LeaseRequest
    public var waitSeconds: Double
    public init(lease: LeaseRequest, waitSeconds: Double) { self.lease = lease; self.waitSeconds = waitSeconds }
}

/// A waiting (or just granted) request, as its waiter and `tessera queue` see it.
public struct QueueEntry: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable, Hashable { case waiting, granted }
    public var id: String
    public var state: State
    /// The group it waits in (`""` for requests of no group).
    public var group: String
    public var owner: String
    public var program: String
    public var spec: VirtualGPUSpec
    /// 1 for the head of its group's queue.
    public var position: Int
    public var since: Double
    public var deadline: Double
    /// Why it waits: the refusal it would get now.
    public var reason: String
    /// The granted lease (with its attach secret, for the waiter only).
    public var lease: Lease?
    public init(id: String, state: State, group: String, owner: String, program: String, spec: VirtualGPUSpec, position: Int,
                since: Double, deadline: Double, reason: String, lease: Lease?) {
        self.id = id; self.state = state; self.group = group; self.owner = owner; self.program = program; self.spec = spec
        self.position = position; self.since = since; self.deadline = deadline; self.reason = reason; self.lease = lease
    }
}

/// One row of `GET /v1/usage`: what a user of a group consumed in the period, from the lease history.
public struct UsageRow: Codable, Sendable, Hashable {
    public var user: String
    public var group: String
    /// GPU memory held over time, in GiB-hours.
    public var memoryGiBHours: Double
    /// Compute shares held over time, in GPU-hours (100 % for one hour is 1).
    public var computeHours: Double
    public var leases: Int
    public init(user: String, group: String, memoryGiBHours: Double, computeHours: Double, leases: Int) {
        self.user = user; self.group = group; self.memoryGiBHours = memoryGiBHours; self.computeHours = computeHours; self.leases = leases
    }
}

/// A lease's consumption, kept durably when it ends (and computed for live leases), for usage accounting.
public struct UsageRecord: Codable, Sendable, Hashable {
    public var lease: String
    public var user: String
    public var group: String
    public var start: Double
    public var end: Double
    public var memoryMiB: Int
    public var computePercent: Int
    public init(lease: String, user: String, group: String, start: Double, end: Double, memoryMiB: Int, computePercent: Int) {
        self.lease = lease; self.user = user; self.group = group; self.start = start; self.end = end
        self.memoryMiB = memoryMiB; self.computePercent = computePercent
    }
}
