import Prometheus
import TesseraPoolAPI

/// The controller's `/metrics` in Prometheus text format. Every gauge is computed from one read of the pool at
/// scrape time and written straight into the exposition (`MetricsExposition`), so a vGPU's series exist from its grant on and vanish with its
/// lease; counters come from the pool's tallies, the allocation wait histogram from the controller's registry.
/// Units are base units (bytes, seconds), ratios 0–1; counters carry no identifiers. docs/metrics.md lists
/// every series.
public enum PoolMetrics {
    /// The release these metrics describe (`tessera_build_info`).
    public static let version = "0.9.0"

    /// The exposition of `state` at `now`, followed by `lasting` (the controller's long-lived series).
    public static func render(_ state: PoolState, now: Double, lasting: PrometheusCollectorRegistry? = nil) -> String {
        var r = MetricsExposition()
        r.gauge("tessera_build_info", [("version", version), ("component", "controller"), ("policy", state.strategy.description)],
                help: "Always 1: the controller's version and placement policy.", 1)
        for name in state.nodes.keys.sorted() {
            let n = state.nodes[name]!
            r.gauge("tessera_node_up", [("node", name)], help: "1 when the node heartbeats, 0 when it is down.", n.state == .up ? 1 : 0)
            r.gauge("tessera_node_last_heartbeat_timestamp_seconds", [("node", name)], help: "When the node last heartbeat, in seconds since 1970.", n.lastHeartbeat)
            r.gauge("tessera_node_cordoned", [("node", name)], help: "1 when an administrator cordoned the node (no new vGPUs).", state.cordons.contains(name) ? 1 : 0)
        }
        let gpus = state.gpuInfos()
        var models: [GPUKey: (model: String, uuid: String)] = [:]
        for g in gpus {
            models[GPUKey(node: g.node, index: g.index)] = (g.model, g.uuid ?? "")
            let labels = [("node", g.node), ("gpu_uuid", g.uuid ?? ""), ("gpu_index", "\(g.index)"), ("model", g.model)]
            r.gauge("tessera_gpu_memory_capacity_bytes", labels, help: "The GPU's memory.", Double(g.memoryMiB) * mebibyte)
            r.gauge("tessera_gpu_memory_allocated_bytes", labels, help: "Memory granted on the GPU to leases and unclaimed reservations.", Double(g.grantedMemoryMiB) * mebibyte)
            r.gauge("tessera_gpu_memory_used_bytes", labels, help: "Memory in use on the GPU, as its node measures it.", Double(g.usedMemoryMiB) * mebibyte)
            r.gauge("tessera_gpu_compute_allocated_ratio", labels, help: "Compute granted on the GPU, 0-1 of the GPU.", Double(g.grantedComputePercent) / 100)
            r.gauge("tessera_gpu_utilization_ratio", labels, help: "Fraction of the last second the GPU was busy with sessions' work, 0-1.", min(1, g.utilizationPercent / 100))
            r.gauge("tessera_gpu_healthy", labels, help: "1 when the node reports the GPU healthy and is up.", g.healthy && g.nodeUp ? 1 : 0)
            r.gauge("tessera_gpu_cordoned", labels, help: "1 when the GPU or its node is cordoned.", g.cordoned == true ? 1 : 0)
        }
        // What each lease's sessions report of their vGPUs, by lease, node and GPU (in the lease's order).
        var usage: [String: [VGPUUsage]] = [:]
        // Leases whose session on a paging node is not resident (its memory paged out, or on its way).
        var paged: [String: Bool] = [:]
        for name in state.nodes.keys.sorted() {
            for s in state.nodes[name]!.sessions {
                guard let lease = s.lease else { continue }
                for v in s.vgpus ?? [] { usage["\(lease) \(name) \(v.gpu)", default: []].append(v) }
                if let p = s.paging { paged[lease] = (paged[lease] ?? false) || p.state != "resident" }
            }
        }
        let claimed = Dictionary(state.reservations.values.compactMap { r in r.claimedBy.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        for lease in state.leases.values.sorted(by: { $0.id < $1.id }) {
            var who: [(String, String)] = []
            if let display = claimed[lease.id]?.displayName, let slash = display.firstIndex(of: "/") {
                who += [("namespace", String(display[..<slash])), ("pod", String(display[display.index(after: slash)...]))]
            }
            if !lease.program.isEmpty { who.append(("program", lease.program)) }
            if !lease.owner.isEmpty { who.append(("user", lease.owner)) }
            if let group = lease.group { who.append(("group", group)) }
            let active = state.lastActive[lease.id] ?? []
            for (position, v) in lease.vgpus.enumerated() {
                let gpu = models[GPUKey(node: v.node, index: v.gpu)]
                let labels = [("node", v.node), ("gpu_uuid", gpu?.uuid ?? ""), ("gpu_index", "\(v.gpu)"), ("model", gpu?.model ?? ""),
                              ("lease", lease.id), ("vgpu", "\(position)")] + who
                let key = "\(lease.id) \(v.node) \(v.gpu)"
                let used = usage[key]?.first
                if used != nil { usage[key]!.removeFirst() }
                r.gauge("tessera_vgpu_memory_limit_bytes", labels, help: "Memory granted to the vGPU.", Double(v.memoryMiB) * mebibyte)
                r.gauge("tessera_vgpu_memory_used_bytes", labels, help: "Memory the vGPU's program holds (0 until it reports).", Double(used?.usedMemoryMiB ?? 0) * mebibyte)
                r.gauge("tessera_vgpu_compute_share_ratio", labels, help: "Compute granted to the vGPU, 0-1 of its GPU.", Double(v.computePercent) / 100)
                r.gauge("tessera_vgpu_compute_utilization_ratio", labels, help: "Compute the vGPU achieved over the last second, 0-1 of its GPU.", (used?.utilizationPercent ?? 0) / 100)
                r.gauge("tessera_vgpu_last_active_timestamp_seconds", labels, help: "When the vGPU last ran work (its grant time until then), in seconds since 1970.", position < active.count ? active[position] : lease.createdAt)
                if let isPaged = paged[lease.id] {
                    r.gauge("tessera_vgpu_paged", labels, help: "1 while the vGPU's session is paged out of device memory (nodes with --page-idle-after only).", isPaged ? 1 : 0)
                }
            }
        }
        groupSeries(state, into: &r)
        let summary = state.summary()
        r.gauge("tessera_pool_gpus", help: "GPUs of nodes that are up.", Double(summary.gpus))
        r.gauge("tessera_pool_leases", help: "Live leases.", Double(summary.leases))
        r.gauge("tessera_pool_vgpus", help: "Live vGPUs (of leases).", Double(state.leases.values.reduce(0) { $0 + $1.vgpus.count }))
        r.gauge("tessera_pool_reservations", help: "Reservations, claimed or not.", Double(summary.reservations))
        let granted = PoolState.AllocationOutcome(result: "granted", reason: "none")
        // Both results exist from the start, so that rate() sees the first refusal.
        for (outcome, count) in [granted: 0].merging(state.tallies.allocations, uniquingKeysWith: +) {
            r.counter("tessera_allocation_requests_total", [("result", outcome.result), ("reason", outcome.reason)],
                      help: "Allocation requests (leases and reservations) by result and reason (the error code of a refusal).", Double(count))
        }
        for (reason, count) in state.tallies.leasesEnded {
            r.counter("tessera_leases_ended_total", [("reason", reason)], help: "Leases ended, by reason.", Double(count))
        }
        var text = r.text
        if let lasting { text += lasting.emitToString() }
        return text
    }

    /// Each group's quota, what it holds and how many of its requests wait (one pass over the grants).
    private static func groupSeries(_ state: PoolState, into r: inout MetricsExposition) {
        guard !state.groups.isEmpty else { return }
        var used: [String: GroupUsage] = [:]
        func add(_ group: String?, _ vgpus: [VirtualGPUAssignment]) {
            guard let group else { return }
            var u = used[group] ?? GroupUsage()
            for v in vgpus { u.memoryMiB += v.memoryMiB; u.computePercent += v.computePercent; u.vgpus += 1 }
            used[group] = u
        }
        for l in state.leases.values { add(l.group, l.vgpus) }
        for res in state.reservations.values where res.claimedBy == nil { add(res.group, res.vgpus) }
        var waiting: [String: Int] = [:]
        for w in state.waiters where w.state == .waiting { waiting[w.group, default: 0] += 1 }
        for name in state.groups.keys.sorted() {
            let g = state.groups[name]!, u = used[name] ?? GroupUsage(), labels = [("group", name)]
            r.gauge("tessera_group_memory_allocated_bytes", labels, help: "Memory the group's leases and unclaimed reservations hold.", Double(u.memoryMiB) * mebibyte)
            r.gauge("tessera_group_compute_allocated_ratio", labels, help: "Compute shares the group holds, in GPUs (1 = one whole GPU's time).", Double(u.computePercent) / 100)
            r.gauge("tessera_group_vgpus", labels, help: "vGPUs the group holds.", Double(u.vgpus))
            r.gauge("tessera_group_waiting_requests", labels, help: "The group's requests waiting in the queue.", Double(waiting[name] ?? 0))
            if let m = g.quota.memoryMiB { r.gauge("tessera_group_memory_quota_bytes", labels, help: "The group's memory quota.", Double(m) * mebibyte) }
            if let c = g.quota.computePercent { r.gauge("tessera_group_compute_quota_ratio", labels, help: "The group's compute quota, in GPUs.", Double(c) / 100) }
            if let v = g.quota.vgpus { r.gauge("tessera_group_vgpus_quota", labels, help: "The group's quota of vGPUs.", Double(v)) }
        }
    }

    private static let mebibyte = 1_048_576.0
}
