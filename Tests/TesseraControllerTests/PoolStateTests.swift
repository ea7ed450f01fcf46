import Testing
import TesseraPoolAPI
@testable import TesseraController

/// The controller's state machine, without I/O: registration, placement, leases, reservations, down nodes.
@Suite struct PoolStateTests {
    static func node(_ name: String, gpus: Int = 2, memoryMiB: Int = 16384, model: String = "H100", endpoint: String? = nil) -> NodeRegistration {
        NodeRegistration(name: name, endpoint: endpoint ?? "\(name):7070",
                         gpus: (0..<gpus).map { GPUDescription(index: $0, model: model, memoryMiB: memoryMiB, multiprocessors: 132) })
    }

    static func pool(_ strategy: PlacementStrategy = .engine(.tessera), nodes: [NodeRegistration], nodeTimeout: Double = 5) throws -> PoolState {
        var p = PoolState(strategy: strategy, timing: .init(nodeTimeout: nodeTimeout, leaseGrace: 2), now: 0)
        for n in nodes { _ = try p.register(n, now: 0) }
        return p
    }

    static func request(_ vgpus: Int = 1, mib: Int = 1024, percent: Int = 10, sameNode: Bool = false, whole: Bool = false,
                        node: String? = nil, allowed: [String] = [], denied: [String] = []) -> LeaseRequest {
        LeaseRequest(spec: VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent, wholeGPU: whole, sameNode: sameNode,
                                          allowedModels: allowed, deniedModels: denied, node: node),
                     requester: node ?? "cpu-box", program: "train", owner: "alice")
    }

    @Test func grantsAreRecordedAndNeverOvercommit() throws {
        var p = try Self.pool(nodes: [Self.node("a", gpus: 1, memoryMiB: 4096)])
        var leases: [Lease] = []
        for _ in 0..<4 { leases.append(try p.grant(Self.request(mib: 1024, percent: 20), now: 1).0) }
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 4096)
        #expect(p.gpuInfos()[0].grantedComputePercent == 80)
        #expect(throws: PoolError.self) { try p.grant(Self.request(mib: 1, percent: 1), now: 1) }
        let changes = p.release(lease: leases[0].id, now: 2)
        #expect(changes.filter { !$0.isUsageRecord } == [.deleteLease(leases[0].id)])
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 3072)
        _ = try p.grant(Self.request(mib: 1024, percent: 20), now: 3)
        #expect(p.gpuInfos()[0].grantedComputePercent == 80)
        #expect(throws: PoolError.self) { try p.grant(Self.request(mib: 1, percent: 1), now: 3) }
    }

    @Test func refusalSaysWhatIsFree() throws {
        var p = try Self.pool(nodes: [Self.node("a", gpus: 1, memoryMiB: 2048)])
        do throws(PoolError) {
            _ = try p.grant(Self.request(mib: 4096), now: 1)
            Issue.record("an oversized request was granted")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("a/0 2048 MiB 100 %"))
        }
        #expect(p.leases.isEmpty)
    }

    @Test func multiVGPURequestsSpanNodesOrStayOnOne() throws {
        // Each node has one GPU with room for one 3 GiB slice: two vGPUs must come from two nodes.
        var p = try Self.pool(nodes: [Self.node("a", gpus: 1, memoryMiB: 4096), Self.node("b", gpus: 1, memoryMiB: 4096)])
        let (lease, _) = try p.grant(Self.request(2, mib: 3072), now: 1)
        #expect(Set(lease.vgpus.map(\.node)) == ["a", "b"])
        #expect(lease.vgpus.allSatisfy { $0.endpoint != nil })
        // On one node only: does not fit anywhere now, and a failed request takes nothing.
        #expect(throws: PoolError.self) { try p.grant(Self.request(2, mib: 1024, sameNode: true), now: 1) }
        #expect(p.gpuInfos().map(\.grantedMemoryMiB) == [3072, 3072])
        let (small, _) = try p.grant(Self.request(1, mib: 512, node: "b"), now: 1)
        #expect(small.vgpus.map(\.node) == ["b"])
    }

    @Test func wholeGPUsAndModelConstraints() throws {
        var p = try Self.pool(nodes: [Self.node("a", gpus: 2, model: "H100"), Self.node("t", gpus: 2, memoryMiB: 15360, model: "T4")])
        let (whole, _) = try p.grant(Self.request(2, sameNode: true, whole: true, allowed: ["T4"]), now: 1)
        #expect(whole.vgpus.map(\.node) == ["t", "t"])
        #expect(Set(whole.vgpus.map(\.gpu)) == [0, 1])
        #expect(whole.vgpus.allSatisfy { $0.memoryMiB == 15360 && $0.computePercent == 100 })
        // T4s are taken whole: a T4-only slice does not fit; denying H100 leaves nothing.
        #expect(throws: PoolError.self) { try p.grant(Self.request(allowed: ["T4"]), now: 1) }
        #expect(throws: PoolError.self) { try p.grant(Self.request(denied: ["H100"]), now: 1) }
        let (h, _) = try p.grant(Self.request(denied: ["T4"]), now: 1)
        #expect(h.vgpus[0].node == "a")
    }

    @Test func binpackFillsOneGPUAndSpreadUsesAll() throws {
        var pack = try Self.pool(.engine(.bestFit), nodes: [Self.node("a"), Self.node("b")])
        for _ in 0..<4 { _ = try pack.grant(Self.request(mib: 1024, percent: 10), now: 1) }
        #expect(pack.gpuInfos().filter { $0.grantedMemoryMiB > 0 }.count == 1)
        var spread = try Self.pool(.spread, nodes: [Self.node("a"), Self.node("b")])
        for _ in 0..<4 { _ = try spread.grant(Self.request(mib: 1024, percent: 10), now: 1) }
        #expect(Set(spread.leases.values.flatMap(\.vgpus).map(\.node)) == ["a", "b"])
    }

    @Test func silentNodesGoDownAndLoseTheirLeases() throws {
        var p = try Self.pool(nodes: [Self.node("a"), Self.node("b")])
        let (onA, _) = try p.grant(Self.request(node: "a"), now: 1)
        let (onB, _) = try p.grant(Self.request(node: "b"), now: 1)
        _ = p.heartbeat(node: "b", NodeHeartbeat(gpus: [], sessions: [SessionReport(session: 1, lease: onB.id, program: "x", pid: 1, uid: 0, usedMemoryMiB: 0)]), now: 4)
        let changes = p.expire(now: 6)
        #expect(changes.filter { !$0.isUsageRecord } == [.deleteLease(onA.id)])
        #expect(p.nodes["a"]?.state == .down)
        #expect(p.nodes["b"]?.state == .up)
        #expect(throws: PoolError.self) { try p.grant(Self.request(node: "a"), now: 6) }
        // A down node that heartbeats again is back.
        _ = p.heartbeat(node: "a", NodeHeartbeat(gpus: [], sessions: []), now: 7)
        #expect(p.nodes["a"]?.state == .up)
        #expect(p.events.map(\.kind).contains("node-down"))
    }

    @Test func heartbeatsReconcileSessionsAndLeases() throws {
        var p = try Self.pool(nodes: [Self.node("a")])
        let (kept, _) = try p.grant(Self.request(node: "a"), now: 1)
        let (gone, _) = try p.grant(Self.request(node: "a"), now: 1)
        let report = [SessionReport(session: 1, lease: kept.id, program: "x", pid: 1, uid: 0, usedMemoryMiB: 0),
                      SessionReport(session: 2, lease: "lease-999", program: "y", pid: 2, uid: 0, usedMemoryMiB: 0)]
        // Within the grace period an unreported lease stays.
        var (reply, changes) = p.heartbeat(node: "a", NodeHeartbeat(gpus: [], sessions: report), now: 2)
        #expect(reply.endLeases == ["lease-999"])
        #expect(changes.isEmpty)
        (reply, changes) = p.heartbeat(node: "a", NodeHeartbeat(gpus: [], sessions: report), now: 4)
        #expect(changes.filter { !$0.isUsageRecord } == [.deleteLease(gone.id)])
        #expect(p.leases.keys.sorted() == [kept.id])
        // The kept lease was asked for with a program name, so the report does not rename it.
        #expect(p.leases[kept.id]?.program == "train")
        var unnamed = Self.request(node: "a")
        unnamed.program = ""
        let (fresh, _) = try p.grant(unnamed, now: 5)
        let named = p.heartbeat(node: "a", NodeHeartbeat(gpus: [], sessions: [
            SessionReport(session: 3, lease: fresh.id, program: "resnet", pid: 9, uid: 1000, usedMemoryMiB: 0)] + report), now: 5).1
        #expect(p.leases[fresh.id]?.program == "resnet" && p.leases[fresh.id]?.owner == "uid 1000")
        #expect(named.contains { if case .putLease(let l) = $0 { l.id == fresh.id } else { false } })
        #expect(p.heartbeat(node: "zz", NodeHeartbeat(gpus: [], sessions: []), now: 4).0.registerAgain)
    }

    @Test func reservationsHoldCapacityUntilClaimedReleasedOrLapsed() throws {
        var p = try Self.pool(nodes: [Self.node("a", gpus: 1, memoryMiB: 4096)], nodeTimeout: 1000)
        let (r, _) = try p.reserve(ReservationRequest(consumer: "pod-uid-1", spec: VirtualGPUSpec(memoryMiB: 3072, computePercent: 50), ttlSeconds: 10), now: 0)
        #expect(throws: PoolError.self) { try p.grant(Self.request(mib: 2048), now: 1) }
        var claim = Self.request()
        claim.reservation = r.id
        let (lease, _) = try p.grant(claim, now: 1)
        #expect(lease.vgpus == r.vgpus)
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 3072)  // counted once
        #expect(throws: PoolError.self) { try p.grant(claim, now: 1) }
        #expect(p.expire(now: 20).isEmpty)  // claimed: does not lapse
        _ = p.release(lease: lease.id, now: 21)
        #expect(p.reservations.isEmpty)
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 0)
        let (r2, _) = try p.reserve(ReservationRequest(consumer: "pod-uid-2", spec: VirtualGPUSpec(memoryMiB: 1024), ttlSeconds: 5), now: 30)
        #expect(p.expire(now: 36) == [.deleteReservation(r2.id)])
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 0)
    }

    @Test func restoredPoolKeepsGrantsAndNumbering() throws {
        var p = try Self.pool(nodes: [Self.node("a", gpus: 1, memoryMiB: 4096)])
        let (l, _) = try p.grant(Self.request(mib: 3000), now: 1)
        var restored = try PoolState(now: 10, nodes: [Self.node("a", gpus: 1, memoryMiB: 4096)], leases: [l], reservations: [])
        #expect(restored.gpuInfos()[0].grantedMemoryMiB == 3000)
        #expect(throws: PoolError.self) { try restored.grant(Self.request(mib: 2000), now: 11) }
        let (next, _) = try restored.grant(Self.request(mib: 1000), now: 11)
        #expect(next.id != l.id)
    }

    @Test func badRequestsAreRefusedClearly() throws {
        var p = try Self.pool(nodes: [Self.node("a")])
        // (percent 0 is best effort, not a bad request: see GroupQueueTests.)
        for bad in [Self.request(0), Self.request(mib: 0), Self.request(percent: -1), Self.request(percent: 101)] {
            #expect(throws: PoolError.self) { try p.grant(bad, now: 1) }
        }
        #expect(throws: PoolError.self) { try p.grant(Self.request(node: "nowhere"), now: 1) }
        #expect(throws: PoolError.self) { try p.register(NodeRegistration(name: "", endpoint: nil, gpus: []), now: 1) }
        #expect(p.leases.isEmpty)
    }
}
