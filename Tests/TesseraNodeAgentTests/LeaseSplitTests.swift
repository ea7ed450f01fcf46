import Testing
import TesseraNode
@testable import TesseraNodeAgent
import TesseraPoolAPI
import TesseraWire

/// How a home node reads a lease that spans nodes, without I/O.
@Suite struct LeaseSplitTests {
    func lease(_ vgpus: [(String, Int, String?)], secret: String? = "s") -> Lease {
        Lease(id: "lease-1", requester: "a", program: "p", owner: "o", spec: VirtualGPUSpec(vgpus: vgpus.count),
              vgpus: vgpus.map { VirtualGPUAssignment(node: $0.0, gpu: $0.1, memoryMiB: 512, computePercent: 10, endpoint: $0.2) },
              createdAt: 0, attachSecret: secret)
    }
    let inventory = [GPUCapacity(index: 0, totalMemory: 1 << 30), GPUCapacity(index: 1, totalMemory: 1 << 30)]

    @Test func localFirstThenOneGroupPerNode() throws {
        let p = try ControllerPlacement.split(lease([("a", 1, "a:1"), ("b", 0, "b:7"), ("c", 0, "c:7"), ("b", 1, "b:7")]),
                                              home: "a", inventory: inventory)
        #expect(p.local == [1])
        #expect(p.remote.map(\.node) == ["b", "c"] && p.remote.map(\.count) == [2, 1] && p.remote.map(\.endpoint) == ["b:7", "c:7"])
        #expect(p.remote.allSatisfy { $0.credential == AttachCredential(leaseID: "lease-1", secret: "s") })
        // A CPU-only home: everything remote.
        let cpu = try ControllerPlacement.split(lease([("b", 0, "b:7")]), home: "a", inventory: [])
        #expect(cpu.local.isEmpty && cpu.remote.count == 1)
    }

    @Test func unusableLeasesAreRefused() {
        // A GPU this node does not have, another node without an endpoint, remote vGPUs without a secret.
        #expect(throws: PlacementError.self) { try ControllerPlacement.split(lease([("a", 5, nil)]), home: "a", inventory: inventory) }
        #expect(throws: PlacementError.self) { try ControllerPlacement.split(lease([("b", 0, nil)]), home: "a", inventory: inventory) }
        #expect(throws: PlacementError.self) { try ControllerPlacement.split(lease([("b", 0, "b:7")], secret: nil), home: "a", inventory: inventory) }
    }
}
