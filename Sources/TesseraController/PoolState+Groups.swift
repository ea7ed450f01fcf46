import TesseraPoolAPI

extension PoolState {
    // MARK: Defining groups

    /// Replaces every group with `document`'s: groups it leaves out are deleted. What members hold now stays
    /// granted (a lowered quota refuses new requests until enough is released). Throws with nothing changed
    /// when a group is malformed.
    public mutating func applyGroups(_ document: GroupsDocument, now: Double) throws(PoolError) -> [Change] {
        var seen: Set<String> = []
        for g in document.groups {
            try Self.check(g)
            guard seen.insert(g.name).inserted else { throw PoolError(.invalidRequest, "group \(g.name) is defined twice") }
        }
        var changes: [Change] = []
        for name in groups.keys.sorted() where !seen.contains(name) {
            groups[name] = nil
            changes.append(.deleteGroup(name))
        }
        for g in document.groups where groups[g.name] != g {
            groups[g.name] = g
            changes.append(.putGroup(g))
        }
        record(now, "groups-applied", "\(document.groups.count) group(s): \(document.groups.map(\.name).joined(separator: ", "))")
        return changes
    }

    /// Defines or redefines one group.
    public mutating func putGroup(_ group: GroupDefinition, now: Double) throws(PoolError) -> [Change] {
        try Self.check(group)
        groups[group.name] = group
        record(now, "group-defined", group.name)
        return [.putGroup(group)]
    }

    /// Deletes one group; its members' leases stay.
    public mutating func deleteGroup(_ name: String, now: Double) throws(PoolError) -> [Change] {
        guard groups.removeValue(forKey: name) != nil else { throw PoolError(.notFound, "no group \(name)") }
        record(now, "group-deleted", name)
        return [.deleteGroup(name)]
    }

    static func check(_ g: GroupDefinition) throws(PoolError) {
        guard !g.name.isEmpty, g.name.count <= 63, g.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw PoolError(.invalidRequest, "a group needs a name of 1…63 letters, digits, '-', '_' or '.', got '\(g.name)'")
        }
        for (what, q) in [("quota", g.quota), ("memberLimit", g.memberLimit ?? GroupQuota())] {
            for (field, value) in [("memoryMiB", q.memoryMiB), ("computePercent", q.computePercent), ("vgpus", q.vgpus)] {
                if let value, value < 0 { throw PoolError(.invalidRequest, "group \(g.name): \(what).\(field) must not be negative") }
            }
        }
        guard (-1000...1000).contains(g.priority) else { throw PoolError(.invalidRequest, "group \(g.name): priority must be -1000…1000") }
    }

    // MARK: Membership

    /// Who holds a lease, for per-member limits and usage: the user name its node reported, else its owner.
    static func member(of request: LeaseRequest) -> String {
        if let user = request.user, !user.isEmpty { return user }
        return request.owner
    }

    static func member(of lease: Lease) -> String {
        if let user = lease.user, !user.isEmpty { return user }
        return lease.owner
    }

    /// The group a program's request counts against: the first group (by name) listing its uid or user name.
    func group(of request: LeaseRequest) -> GroupDefinition? {
        guard !groups.isEmpty else { return nil }
        let uid = request.owner.hasPrefix("uid ") ? String(request.owner.dropFirst(4)) : nil
        let names = [uid, request.user, request.owner].compactMap { $0 }.compactMap { groupOfUser[$0] }
        return names.min().flatMap { groups[$0] }
    }

    /// Rebuilds ``groupOfUser`` from ``groups``.
    mutating func indexMembers() {
        var index: [String: String] = [:]
        for name in groups.keys.sorted() {
            for user in groups[name]!.members.users where index[user] == nil { index[user] = name }
        }
        groupOfUser = index
    }

    /// The group a pod's reservation counts against: the first group (by name) listing its namespace or
    /// with a selector its labels match.
    func group(of request: ReservationRequest) -> GroupDefinition? {
        guard !groups.isEmpty else { return nil }
        let namespace = request.displayName.flatMap { d in d.firstIndex(of: "/").map { String(d[..<$0]) } }
        let labels = request.labels ?? [:]
        return groups.keys.sorted().lazy.compactMap { groups[$0] }.first { g in
            (namespace.map { g.members.namespaces.contains($0) } ?? false)
                || g.members.podSelectors.contains { s in !s.isEmpty && s.allSatisfy { labels[$0.key] == $0.value } }
        }
    }

    // MARK: Quotas

    /// What `group`'s leases and unclaimed reservations hold now; with `member`, only that member's.
    public func usage(ofGroup group: String, member: String? = nil) -> GroupUsage {
        var u = GroupUsage()
        func add(_ vgpus: [VirtualGPUAssignment]) {
            for v in vgpus { u.memoryMiB += v.memoryMiB; u.computePercent += v.computePercent; u.vgpus += 1 }
        }
        for l in leases.values where l.group == group && (member == nil || Self.member(of: l) == member) { add(l.vgpus) }
        for r in reservations.values where r.claimedBy == nil && r.group == group && (member == nil || r.consumer == member) { add(r.vgpus) }
        return u
    }

    /// Throws `unavailable`, naming the group and the limit, when `vgpus` on top of what the group (or the
    /// member) holds would pass its quota (or member limit).
    func admit(_ vgpus: [VirtualGPUAssignment], to group: GroupDefinition?, member: String) throws(PoolError) {
        guard let group else { return }
        let asked = GroupUsage(memoryMiB: vgpus.reduce(0) { $0 + $1.memoryMiB }, computePercent: vgpus.reduce(0) { $0 + $1.computePercent },
                               vgpus: vgpus.count)
        // One pass for the group's and the member's holdings.
        var held = GroupUsage(), mine = GroupUsage()
        func add(_ vgpus: [VirtualGPUAssignment], _ isMine: Bool) {
            for v in vgpus {
                held.memoryMiB += v.memoryMiB; held.computePercent += v.computePercent; held.vgpus += 1
                if isMine { mine.memoryMiB += v.memoryMiB; mine.computePercent += v.computePercent; mine.vgpus += 1 }
            }
        }
        for l in leases.values where l.group == group.name { add(l.vgpus, Self.member(of: l) == member) }
        for r in reservations.values where r.claimedBy == nil && r.group == group.name { add(r.vgpus, r.consumer == member) }
        try Self.check(asked, on: held, against: group.quota, "group \(group.name)'s quota")
        if let limit = group.memberLimit {
            try Self.check(asked, on: mine, against: limit, "group \(group.name)'s limit per member (\(member.isEmpty ? "unknown member" : member))")
        }
    }

    /// Throws unless `asked` on top of `held` stays within `quota`.
    static func check(_ asked: GroupUsage, on held: GroupUsage, against quota: GroupQuota, _ what: String) throws(PoolError) {
        if let limit = quota.memoryMiB, held.memoryMiB + asked.memoryMiB > limit {
            throw PoolError(.unavailable, "\(what) of \(limit) MiB memory would be exceeded: \(held.memoryMiB) MiB held, \(asked.memoryMiB) MiB asked")
        }
        if let limit = quota.computePercent, held.computePercent + asked.computePercent > limit {
            throw PoolError(.unavailable, "\(what) of \(limit) % compute would be exceeded: \(held.computePercent) % held, \(asked.computePercent) % asked")
        }
        if let limit = quota.vgpus, held.vgpus + asked.vgpus > limit {
            throw PoolError(.unavailable, "\(what) of \(limit) vGPUs would be exceeded: \(held.vgpus) held, \(asked.vgpus) asked")
        }
    }

    /// Throws when `spec` alone (before anything is held) is more than `group` may ever hold, so waiting for
    /// it would be pointless. Whole GPUs are sized at placement and not checked here.
    func checkFitsQuotaAlone(_ spec: VirtualGPUSpec, group: GroupDefinition?) throws(PoolError) {
        guard let group, !spec.wholeGPU else { return }
        let asked = GroupUsage(memoryMiB: spec.memoryMiB * spec.vgpus, computePercent: spec.computePercent * spec.vgpus, vgpus: spec.vgpus)
        try Self.check(asked, on: GroupUsage(), against: group.quota, "group \(group.name)'s quota")
        if let limit = group.memberLimit { try Self.check(asked, on: GroupUsage(), against: limit, "group \(group.name)'s limit per member") }
    }

    /// Every group with what it holds and how many of its requests wait, by name.
    public func groupInfos() -> [GroupInfo] {
        groups.keys.sorted().map { name in
            GroupInfo(group: groups[name]!, used: usage(ofGroup: name),
                      waiting: waiters.filter { $0.group == name && $0.state == .waiting }.count)
        }
    }

    // MARK: Usage accounting

    /// What `lease` consumed from its grant until `end`.
    static func usageRecord(of lease: Lease, until end: Double) -> UsageRecord {
        UsageRecord(lease: lease.id, user: member(of: lease), group: lease.group ?? "", start: lease.createdAt, end: max(end, lease.createdAt),
                    memoryMiB: lease.vgpus.reduce(0) { $0 + $1.memoryMiB }, computePercent: lease.vgpus.reduce(0) { $0 + $1.computePercent })
    }

    /// Rows per user and group since `since` from ended leases' `records` and the live leases (counted until
    /// `now`), optionally of one group; sorted by group and user.
    public func usage(since: Double, now: Double, records: [UsageRecord], group: String? = nil) -> [UsageRow] {
        struct Key: Hashable { var user: String; var group: String }
        var rows: [Key: UsageRow] = [:]
        let live = leases.values.map { Self.usageRecord(of: $0, until: now) }
        for r in records + live where r.end > since && (group == nil || r.group == group) {
            let hours = (r.end - max(r.start, since)) / 3600
            let key = Key(user: r.user, group: r.group)
            var row = rows[key] ?? UsageRow(user: r.user, group: r.group, memoryGiBHours: 0, computeHours: 0, leases: 0)
            row.memoryGiBHours += Double(r.memoryMiB) / 1024 * hours
            row.computeHours += Double(r.computePercent) / 100 * hours
            row.leases += 1
            rows[key] = row
        }
        return rows.values.sorted { ($0.group, $0.user) < ($1.group, $1.user) }
    }
}
