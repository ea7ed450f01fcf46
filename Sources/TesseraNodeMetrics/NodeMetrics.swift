import Foundation
import Prometheus
import TesseraNode
import TesseraNodeAgent
import TesseraWire

/// A node's metrics in Prometheus text format: its GPUs and the vGPUs of its sessions, computed from one
/// status read at scrape time (a session's series vanish with it). The same names and labels as the
/// controller's (docs/metrics.md), plus each vGPU's busy time as a counter.
public struct NodeMetrics: Sendable {
    public let node: Node
    /// The node's name in its pool (the `node` label).
    public let name: String
    /// Each session's lease, when the node is in a pool.
    public let placement: ControllerPlacement?

    public init(node: Node, name: String, placement: ControllerPlacement?) {
        self.node = node
        self.name = name
        self.placement = placement
    }

    /// The exposition now.
    public func render() -> String {
        let status = node.status()
        let busy = node.utilization()
        let leases = placement?.sessionLeases ?? [:]
        let r = PrometheusCollectorRegistry()
        r.gauge(name: "tessera_build_info", labels: [("version", Self.version), ("component", "node"), ("node", name)],
                    help: "Always 1: the node's version.").set(to: 1)
        r.gauge(name: "tessera_node_sessions", labels: [("node", name)], help: "Sessions holding vGPUs on this node.")
            .set(to: Double(status.sessions.count))
        var gpuLabels: [Int: [(String, String)]] = [:]
        for g in status.gpus {
            let uuid = node.backend.gpus.first { $0.index == g.index }.flatMap { ControllerLink.formatUUID($0.uuid) } ?? ""
            let labels = [("node", name), ("gpu_uuid", uuid), ("gpu_index", "\(g.index)"), ("model", g.name)]
            gpuLabels[g.index] = labels
            r.gauge(name: "tessera_gpu_memory_capacity_bytes", labels: labels, help: "The GPU's memory.").set(to: Double(g.totalMemory))
            r.gauge(name: "tessera_gpu_memory_allocated_bytes", labels: labels, help: "Memory granted to this node's vGPUs on the GPU.")
                .set(to: Double(g.grantedMemory))
            r.gauge(name: "tessera_gpu_memory_used_bytes", labels: labels, help: "Memory in use on the GPU.").set(to: Double(g.usedMemory))
            r.gauge(name: "tessera_gpu_compute_allocated_ratio", labels: labels, help: "Compute granted on the GPU, 0-1.")
                .set(to: Double(g.grantedComputePercent) / 100)
            r.gauge(name: "tessera_gpu_utilization_ratio", labels: labels,
                        help: "Fraction of the last second the GPU was busy with sessions' work, 0-1.").set(to: min(1, busy[g.index] ?? 0))
            r.gauge(name: "tessera_gpu_healthy", labels: labels, help: "1 when the device backend reports the GPU healthy.")
                .set(to: node.backend.isHealthy(gpu: g.index) ? 1 : 0)
        }
        for s in status.sessions {
            var who: [(String, String)] = [("session", "\(name):\(s.id)"), ("program", s.programName), ("user", "uid \(s.uid)")]
            if let lease = leases[s.id] { who.insert(("lease", lease), at: 0) }
            for (position, v) in s.virtualGPUs.enumerated() {
                let labels = (gpuLabels[v.physicalIndex] ?? [("node", name), ("gpu_uuid", ""), ("gpu_index", "\(v.physicalIndex)"), ("model", "")])
                    + [("vgpu", "\(position)")] + who
                r.gauge(name: "tessera_vgpu_memory_limit_bytes", labels: labels, help: "Memory granted to the vGPU.").set(to: Double(v.memoryBytes))
                r.gauge(name: "tessera_vgpu_memory_used_bytes", labels: labels, help: "Memory the vGPU's program holds.").set(to: Double(v.usedMemory))
                r.gauge(name: "tessera_vgpu_compute_share_ratio", labels: labels, help: "Compute granted to the vGPU, 0-1 of its GPU.")
                    .set(to: Double(v.computePercent) / 100)
                r.gauge(name: "tessera_vgpu_compute_utilization_ratio", labels: labels,
                            help: "Compute the vGPU achieved over the last second, 0-1 of its GPU.").set(to: Double(v.utilizationBasisPoints) / 10_000)
                r.gauge(name: "tessera_vgpu_busy_seconds", labels: labels,
                            help: "Device time the vGPU's work has taken since it was granted, in seconds.").set(to: Double(v.busyNanoseconds) / 1e9)
            }
            if let p = s.paging {
                let labels = [("node", name)] + who
                r.gauge(name: "tessera_session_paged", labels: labels, help: "1 while the session's memory is not on the device (paged, or paging).")
                    .set(to: p.state == .resident ? 0 : 1)
                r.gauge(name: "tessera_session_paged_bytes", labels: labels, help: "Bytes of the session's memory paged out now.")
                    .set(to: Double(p.pagedBytes))
                r.gauge(name: "tessera_session_idle_seconds", labels: labels, help: "Time since the session's last request ended.")
                    .set(to: Double(p.idleNanoseconds) / 1e9)
                r.gauge(name: "tessera_session_last_page_out_seconds", labels: labels, help: "Duration of the session's last page-out.")
                    .set(to: Double(p.lastPageOutNanoseconds) / 1e9)
                r.gauge(name: "tessera_session_last_page_in_seconds", labels: labels,
                        help: "Duration of the session's last page-in, from the call that needed it (waiting for room included).")
                    .set(to: Double(p.lastPageInNanoseconds) / 1e9)
            }
        }
        if let idleAfter = status.pageIdleAfterMilliseconds, let totals = node.pagingTotals {
            let labels = [("node", name)]
            r.gauge(name: "tessera_node_page_idle_after_seconds", labels: labels, help: "Sessions idle this long may be paged out (--page-idle-after).")
                .set(to: Double(idleAfter) / 1000)
            r.gauge(name: "tessera_node_paged_sessions", labels: labels, help: "Sessions whose memory is not on the device now.")
                .set(to: Double(totals.pagedSessions))
            r.gauge(name: "tessera_node_paged_bytes", labels: labels, help: "Paged-out memory the node holds (host memory and files).")
                .set(to: Double(totals.heldBytes))
            r.counter(name: "tessera_node_page_outs_total", labels: labels, help: "Page-outs since the node started.")
                .increment(by: Int64(totals.pageOuts))
            r.counter(name: "tessera_node_page_ins_total", labels: labels, help: "Page-ins since the node started.")
                .increment(by: Int64(totals.pageIns))
            r.counter(name: "tessera_node_paged_out_bytes_total", labels: labels, help: "Bytes paged out since the node started.")
                .increment(by: Int64(totals.pagedOutBytes))
            r.counter(name: "tessera_node_paged_in_bytes_total", labels: labels, help: "Bytes paged in since the node started.")
                .increment(by: Int64(totals.pagedInBytes))
            r.counter(name: "tessera_node_page_out_seconds_total", labels: labels, help: "Time spent paging out since the node started.")
                .increment(by: Double(totals.pageOutNanoseconds) / 1e9)
            r.counter(name: "tessera_node_page_in_seconds_total", labels: labels, help: "Time page-ins took since the node started (waits included).")
                .increment(by: Double(totals.pageInNanoseconds) / 1e9)
        }
        return r.emitToString()
    }

    public static let version = "0.9.0"
}
