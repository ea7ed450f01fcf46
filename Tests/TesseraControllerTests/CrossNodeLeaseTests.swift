import Foundation
import Testing
import TesseraPoolAPI
@testable import TesseraController

/// Leases whose vGPUs span nodes, without I/O: local-first placement, one-node requests of slices, the attach
/// credential and the compute mode.
@Suite struct CrossNodeLeaseTests {
    typealias S = PoolStateTests

    func request(_ vgpus: Int, mib: Int, percent: Int = 10, sameNode: Bool = false, preferred: String? = nil,
                 mode: String = "share", requester: String = "a") -> LeaseRequest {
        LeaseRequest(spec: VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent, sameNode: sameNode,
                                          preferredNode: preferred, computeMode: mode),
                     requester: requester)
    }

    @Test func preferredNodeGetsWhatFitsThereFirst() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 4096), S.node("b", gpus: 2, memoryMiB: 4096), S.node("c", gpus: 2, memoryMiB: 4096)])
        // Four 1.5 GiB vGPUs: two fit on a's GPU and come first; the other two go elsewhere.
        let (lease, _) = try p.grant(request(4, mib: 1536, preferred: "a"), now: 1)
        #expect(lease.vgpus.prefix(2).map(\.node) == ["a", "a"])
        #expect(lease.vgpus.suffix(2).allSatisfy { $0.node != "a" && $0.endpoint != nil })
        // A preferred node without room is skipped, not an error (a has 1 GiB left).
        let (next, _) = try p.grant(request(1, mib: 1536, preferred: "a"), now: 1)
        #expect(next.vgpus.count == 1 && next.vgpus[0].node != "a")
    }

    @Test func sameNodeSlicesFindANodeThatHoldsThemAll() throws {
        // a has room for one 3 GiB slice, b for two: a two-slice same-node request must land on b even where a
        // alone would be tried first (it is the preferred node).
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 4096), S.node("b", gpus: 2, memoryMiB: 4096)])
        let (lease, _) = try p.grant(request(2, mib: 3072, sameNode: true, preferred: "a"), now: 1)
        #expect(lease.vgpus.map(\.node) == ["b", "b"])
        #expect(Set(lease.vgpus.map(\.gpu)) == [0, 1])
        // Nothing holds two more: refused, and the failed attempt took nothing.
        #expect(throws: PoolError.self) { try p.grant(request(2, mib: 3072, sameNode: true), now: 1) }
        #expect(p.gpuInfos().map(\.grantedMemoryMiB) == [0, 3072, 3072])
        // Without the constraint they may split.
        _ = try p.grant(request(1, mib: 3072), now: 1)
        #expect(p.gpuInfos().map(\.grantedMemoryMiB) == [3072, 3072, 3072])
    }

    @Test func attachNeedsTheSecretAndHappensOncePerNode() throws {
        var p = try S.pool(nodes: [S.node("a", gpus: 1, memoryMiB: 4096), S.node("b", gpus: 1, memoryMiB: 4096)])
        let (lease, changes) = try p.grant(request(2, mib: 3072, preferred: "a"), now: 1, secret: "s3cret")
        #expect(lease.attachSecret == "s3cret" && changes == [.putLease(lease)])
        #expect(lease.vgpus.map(\.node) == ["a", "b"])
        // The wrong secret, the requester itself, a node without the lease's vGPUs: refused.
        #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "guess"), now: 2) }
        #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cre"), now: 2) }
        #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "a", secret: "s3cret"), now: 2) }
        #expect(throws: PoolError.self) { try p.attach(lease: "lease-999", LeaseAttachRequest(node: "b", secret: "s3cret"), now: 2) }
        let (attached, durable) = try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret"), now: 2)
        #expect(attached.attachSecret == nil && attached.attachedNodes == ["b"])
        #expect(durable == [.putLease(p.leases[lease.id]!)] && p.leases[lease.id]?.attachSecret == "s3cret")
        // A second program presenting the same credential on b gets nothing.
        do throws(PoolError) {
            _ = try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret"), now: 3)
            Issue.record("attached twice")
        } catch { #expect(error.code == .conflict) }
        // Once released, the credential is worthless.
        _ = p.release(lease: lease.id, now: 4)
        #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret"), now: 5) }
        // A lease granted without a secret cannot be attached to at all.
        let (bare, _) = try p.grant(request(2, mib: 3072), now: 6)
        #expect(throws: PoolError.self) { try p.attach(lease: bare.id, LeaseAttachRequest(node: bare.vgpus[1].node, secret: ""), now: 6) }
    }

    @Test func computeModeTravelsInTheSpec() throws {
        var p = try S.pool(nodes: [S.node("a")])
        let (lease, _) = try p.grant(request(1, mib: 512, percent: 30, mode: "limit"), now: 1)
        #expect(lease.spec.computeMode == "limit")
        #expect(throws: PoolError.self) { try p.grant(request(1, mib: 512, mode: "turbo"), now: 1) }
        // Absent in a document, it is share.
        let decoded = try JSONDecoder().decode(VirtualGPUSpec.self, from: Data(#"{"memoryMiB": 512}"#.utf8))
        #expect(decoded.computeMode == "share" && decoded.preferredNode == nil)
    }

    @Test func secretsCompareExactly() {
        #expect(PoolState.sameSecret("abc", "abc"))
        #expect(!PoolState.sameSecret("abc", "abd") && !PoolState.sameSecret("abc", "ab") && !PoolState.sameSecret("", "a"))
    }
}
