import Testing
import TesseraPoolAPI
@testable import TesseraController

/// Cordons, drains and ended leases in the state machine, the audit trail as changes, and the metrics the pool
/// renders from one read (series from the grant on, gone with the lease).
@Suite struct AdministrationTests {
    static func pool() throws -> PoolState {
        try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 2, memoryMiB: 4096), PoolStateTests.node("b", gpus: 1, memoryMiB: 4096)])
    }

    @Test func cordonsKeepPlacementsAwayAndSurviveAsChanges() throws {
        var p = try Self.pool()
        let (reply, changes) = p.cordon(try p.target("a"), now: 1)
        #expect(changes == [.putCordon("a")] && reply.message.contains("cordoned"))
        for _ in 0..<3 { #expect(try p.grant(PoolStateTests.request(mib: 512), now: 2).0.vgpus.map(\.node) == ["b"]) }
        #expect(throws: PoolError.self) { try p.grant(PoolStateTests.request(mib: 512, node: "a"), now: 2) }
        _ = p.uncordon(try p.target("a"), now: 3)
        _ = p.cordon(try p.target("a/0"), now: 3)
        let onA = try p.grant(PoolStateTests.request(mib: 4000, node: "a"), now: 4).0
        #expect(onA.vgpus.map(\.gpu) == [1])
        #expect(p.gpuInfos().first { $0.node == "a" && $0.index == 0 }?.cordoned == true)
        #expect(throws: PoolError.self) { try p.target("a/9") }
        #expect(throws: PoolError.self) { try p.target("zz") }
        // Restored from its changes, the pool keeps the cordon.
        let restored = try PoolState(now: 5, nodes: [PoolStateTests.node("a", gpus: 2, memoryMiB: 4096)], leases: [], reservations: [], cordons: ["a/0"])
        #expect(restored.isCordoned(node: "a", gpu: 0) && !restored.isCordoned(node: "a", gpu: 1))
    }

    @Test func drainEndsLeasesThereAndCountsThem() throws {
        var p = try Self.pool()
        let onA = try p.grant(PoolStateTests.request(mib: 1024, node: "a"), now: 1).0
        let onB = try p.grant(PoolStateTests.request(mib: 1024, node: "b"), now: 1).0
        let (reply, changes) = p.drain(try p.target("a"), now: 2)
        #expect(reply.endedLeases == [onA.id])
        #expect(changes.contains(.deleteLease(onA.id)) && changes.contains(.putCordon("a")))
        #expect(p.leases[onB.id] != nil)
        #expect(p.tallies.leasesEnded["drained"] == 1)
        _ = try p.endLease(onB.id, now: 3)
        #expect(p.tallies.leasesEnded["ended_by_admin"] == 1)
        #expect(throws: PoolError.self) { try p.endLease(onB.id, now: 3) }
        let entry = AuditEntry(time: 4, action: "cordon", target: "b", caller: "metrics", outcome: "refused", message: "no")
        #expect(p.audit(entry) == [.audit(entry)])
        #expect(p.events.last?.kind == "admin-refused")
    }

    @Test func metricsFollowGrantsAndEnds() throws {
        var p = try Self.pool()
        let lease = try p.grant(PoolStateTests.request(mib: 1024, percent: 25, node: "b"), now: 1).0
        p.recordRefusal(PoolError(.unavailable, "full"), of: "a lease", now: 1)
        let text = PoolMetrics.render(p, now: 2)
        #expect(text.contains("tessera_vgpu_memory_limit_bytes{"))
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("tessera_vgpu_compute_share_ratio{") && $0.contains(lease.id) })
        #expect(line.hasSuffix(" 0.25") && line.contains("node=\"b\"") && line.contains("program=\"train\""))
        #expect(text.contains("tessera_allocation_requests_total{result=\"refused\",reason=\"unavailable\"} 1"))
        #expect(text.contains("tessera_allocation_requests_total{result=\"granted\",reason=\"none\"} 1"))
        _ = p.release(lease: lease.id, now: 3)
        let after = PoolMetrics.render(p, now: 4)
        #expect(!after.contains("tessera_vgpu_"))
        #expect(after.contains("tessera_leases_ended_total{reason=\"released\"} 1"))
        #expect(p.snapshot(now: 4).refusals == 1)
    }
}
