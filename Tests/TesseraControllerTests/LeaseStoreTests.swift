import Foundation
import Testing
import TesseraPoolAPI
@testable import TesseraController

/// The SQLite store: what is committed survives reopening; concurrent commits all land.
@Suite struct LeaseStoreTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-store-\(UUID().uuidString)/state.sqlite").path
    }

    @Test func committedChangesSurviveReopening() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var pool = PoolState(now: 0)
        let store = try LeaseStore(path: path)
        try await store.enqueue(try pool.register(PoolStateTests.node("a"), now: 0)).wait()
        let (l1, c1) = try pool.grant(PoolStateTests.request(), now: 1)
        let (l2, c2) = try pool.grant(PoolStateTests.request(), now: 1)
        let (r, c3) = try pool.reserve(ReservationRequest(consumer: "pod", spec: VirtualGPUSpec()), now: 1)
        try await store.enqueue(c1 + c2 + c3).wait()
        try await store.enqueue(pool.release(lease: l1.id, now: 2)).wait()
        store.close()
        let reopened = try LeaseStore(path: path)
        defer { reopened.close() }
        let snapshot = try reopened.load()
        #expect(snapshot.nodes.map(\.name) == ["a"])
        #expect(snapshot.leases == [l2])
        #expect(snapshot.reservations == [r])
    }

    @Test func concurrentCommitsAllLand() async throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try LeaseStore(path: path)
        let spec = VirtualGPUSpec()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let lease = Lease(id: "lease-\(i)", requester: "n", program: "", owner: "", spec: spec, vgpus: [], createdAt: 0)
                    try await store.enqueue([.putLease(lease)]).wait()
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.load().leases.count == 200)
        store.close()
        // A closed store refuses new work with a clear error instead of losing it silently.
        await #expect(throws: PoolError.self) { try await store.enqueue([.deleteLease("lease-1")]).wait() }
    }

    @Test func migrationsAreRecorded() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try LeaseStore(path: path)
        store.close()
        // Opening again applies nothing twice.
        let again = try LeaseStore(path: path)
        again.close()
        #expect(LeaseStore.migrator.migrations == ["v1: nodes, leases, reservations", "v2: cordons and the audit log", "v3-tokens",
                                                    "v3-groups: groups and usage records"])
    }
}
