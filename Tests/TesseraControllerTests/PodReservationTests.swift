import Foundation
import Testing
import TesseraPoolAPI
@testable import TesseraController

/// Reservations as the scheduler extender takes them for Kubernetes pods: one per pod (retries and replicas are
/// harmless), pinned to a node, spread over distinct GPUs or packed on one, held once bound, and outliving the
/// leases of the pod's programs.
@Suite struct PodReservationTests {
    static func podRequest(_ uid: String, vgpus: Int = 1, mib: Int = 1024, percent: Int = 10, node: String = "a",
                           distinct: Bool = false, sameGPU: Bool = false, mode: String = "share") -> ReservationRequest {
        ReservationRequest(
            consumer: "pod/\(uid)",
            spec: VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent, sameNode: true, node: node,
                                 computeMode: mode, distinctGPUs: distinct, sameGPU: sameGPU),
            ttlSeconds: 60, displayName: "students/\(uid)", unique: true, persistent: true)
    }

    @Test func aPodHoldsOneReservationWhateverTheRetries() throws {
        var p = try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 2)], nodeTimeout: 1e9)
        let (first, changes) = try p.reserve(Self.podRequest("u1"), now: 1)
        #expect(changes == [.putReservation(first)])
        #expect(first.displayName == "students/u1" && first.persistent)
        let (again, noChanges) = try p.reserve(Self.podRequest("u1"), now: 2)
        #expect(again == first && noChanges.isEmpty)
        #expect(p.reservations.count == 1)
        #expect(p.gpuInfos().map(\.grantedMemoryMiB).reduce(0, +) == 1024)
        // The same pod asking for something else (another node, another size) is refused, not doubled.
        #expect(throws: PoolError(.conflict, "pod/u1 already holds reservation \(first.id) (a/\(first.vgpus[0].gpu) 1024 MiB 10 %)")) {
            try p.reserve(Self.podRequest("u1", mib: 2048), now: 3)
        }
        #expect(p.reservations(of: "pod/u1") == [first])
        #expect(p.reservations(of: "pod/u2").isEmpty)
    }

    @Test func spreadTakesDistinctGPUsAndPackOneGPU() throws {
        var p = try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 4, memoryMiB: 16384)], nodeTimeout: 1e9)
        let (spread, _) = try p.reserve(Self.podRequest("s", vgpus: 3, mib: 4096, percent: 30, distinct: true), now: 1)
        #expect(Set(spread.vgpus.map(\.gpu)).count == 3)
        #expect(spread.vgpus.allSatisfy { $0.node == "a" && $0.memoryMiB == 4096 && $0.computePercent == 30 })
        let (pack, _) = try p.reserve(Self.podRequest("p", vgpus: 3, mib: 2048, percent: 20, sameGPU: true, mode: "limit"), now: 2)
        #expect(Set(pack.vgpus.map(\.gpu)).count == 1 && pack.vgpus.count == 3)
        #expect(pack.spec.computeMode == "limit")
        let packed = p.gpuInfos().first { $0.index == pack.vgpus[0].gpu }!
        #expect(packed.grantedComputePercent >= 60 && packed.grantedMemoryMiB >= 6144)
        // Five vGPUs on distinct GPUs of a four-GPU node cannot be; 3 × 40 % do not fit one GPU.
        #expect(throws: PoolError.self) { try p.reserve(Self.podRequest("x", vgpus: 5, distinct: true), now: 3) }
        #expect(throws: PoolError.self) { try p.reserve(Self.podRequest("y", vgpus: 3, percent: 40, sameGPU: true), now: 3) }
        #expect(p.reservations.count == 2)
        // A compute mode other than share or limit is a clear error.
        #expect(throws: PoolError.self) { try p.reserve(Self.podRequest("z", mode: "fast"), now: 4) }
        // Releasing gives every GPU back.
        _ = try p.releaseReservation(spread.id, now: 5)
        _ = try p.releaseReservation(pack.id, now: 5)
        #expect(p.gpuInfos().allSatisfy { $0.grantedMemoryMiB == 0 && $0.grantedComputePercent == 0 })
    }

    @Test func aBoundPodsReservationIsHeldAndOutlivesItsPrograms() throws {
        var p = try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 1, memoryMiB: 4096)], nodeTimeout: 1e9)
        let (r, _) = try p.reserve(Self.podRequest("u1", mib: 3072), now: 0)
        #expect(r.expiresAt == 60)
        let (held, changes) = try p.holdReservation(r.id, ttl: nil, now: 5)
        #expect(held.expiresAt == nil && changes == [.putReservation(held)])
        #expect(p.expire(now: 1000).isEmpty)  // held: never lapses
        // A program of the pod claims it; when the program ends the reservation is the pod's again.
        let claim = LeaseRequest(spec: VirtualGPUSpec(), requester: "a", program: "python", reservation: r.id)
        let (lease, _) = try p.grant(claim, now: 10)
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 3072)
        let ended = p.release(lease: lease.id, now: 11)
        #expect(ended.contains(.deleteLease(lease.id)))
        #expect(p.reservations[r.id]?.claimedBy == nil)
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 3072)  // still the pod's
        // The next program claims it again; releasing the reservation ends that lease and frees everything.
        let (second, _) = try p.grant(claim, now: 12)
        let released = try p.releaseReservation(r.id, now: 13)
        #expect(released.contains(.deleteLease(second.id)) && released.contains(.deleteReservation(r.id)))
        #expect(p.leases.isEmpty && p.reservations.isEmpty)
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 0)
        #expect(throws: PoolError.self) { try p.holdReservation(r.id, ttl: nil, now: 14) }
    }

    @Test func unboundReservationsLapse() throws {
        var p = try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 1)], nodeTimeout: 1e9)
        let (r, _) = try p.reserve(Self.podRequest("u1"), now: 0)
        #expect(p.expire(now: 59).isEmpty)
        #expect(p.expire(now: 61) == [.deleteReservation(r.id)])
        #expect(p.gpuInfos()[0].grantedMemoryMiB == 0)
    }

    @Test func reservationsOfEarlierReleasesStillDecode() throws {
        let old = #"{"id":"res-1","consumer":"pod-uid-1","spec":{"memoryMiB":512},"vgpus":[],"createdAt":1}"#
        let r = try JSONDecoder().decode(Reservation.self, from: Data(old.utf8))
        #expect(!r.persistent && r.displayName == nil && r.spec.computeMode == "share" && !r.spec.distinctGPUs)
    }
}
