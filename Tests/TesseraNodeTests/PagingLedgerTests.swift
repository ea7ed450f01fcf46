import Foundation
import Testing
import TesseraDevice
import TesseraNode
import TesseraWire

/// The paging node's pure parts: the ledger's memory overcommit and the page store.
@Suite struct PagingLedgerTests {
    let mib = 1 << 20

    @Test func pagingLedgerLetsQuotasExceedTheGPUButNotOneVGPUOrCompute() throws {
        var ledger = NodeLedger(gpus: [(0, 1024 * mib)], overcommitsMemory: true)
        try ledger.commit(session: 1, VirtualGPURequest(count: 1, memoryBytes: 700 * mib, computePercent: 40), gpus: [0])
        try ledger.commit(session: 2, VirtualGPURequest(count: 1, memoryBytes: 700 * mib, computePercent: 40), gpus: [0])
        #expect(ledger.capacity[0].grantedMemory == 1400 * mib)
        // One vGPU larger than the GPU, or compute past 100 %, is still refused and changes nothing.
        #expect(throws: PlacementError.self) {
            try ledger.commit(session: 3, VirtualGPURequest(count: 1, memoryBytes: 2048 * mib, computePercent: 1), gpus: [0])
        }
        #expect(throws: PlacementError.self) {
            try ledger.commit(session: 4, VirtualGPURequest(count: 1, memoryBytes: 100 * mib, computePercent: 30), gpus: [0])
        }
        #expect(ledger.capacity[0].grantedMemory == 1400 * mib && ledger.capacity[0].grantedComputePercent == 80)
        ledger.release(session: 1)
        ledger.release(session: 2)
        #expect(ledger.capacity[0].grantedMemory == 0)

        var strict = NodeLedger(gpus: [(0, 1024 * mib)])
        try strict.commit(session: 1, VirtualGPURequest(count: 1, memoryBytes: 700 * mib, computePercent: 40), gpus: [0])
        #expect(throws: PlacementError.self) {
            try strict.commit(session: 2, VirtualGPURequest(count: 1, memoryBytes: 700 * mib, computePercent: 40), gpus: [0])
        }
    }

    @Test func pageStoreKeepsBytesInFilesUpToItsCapThenInHostMemory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-store-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = NodePageStore(files: .init(directory: directory.path, limit: 3 * mib))
        let first = (0..<(2 * mib)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let second = (0..<(2 * mib)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let a = try first.withUnsafeBytes { try store.store($0) }
        let b = try second.withUnsafeBytes { try store.store($0) }
        #expect(store.heldBytes.file == 2 * mib && store.heldBytes.host == 2 * mib)  // the second exceeds the cap
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 1)
        var back = [UInt8](repeating: 0, count: 2 * mib)
        try back.withUnsafeMutableBytes { try store.load(a, into: $0) }
        #expect(back == first)
        try back.withUnsafeMutableBytes { try store.load(b, into: $0) }
        #expect(back == second)
        store.discard(a)
        store.discard(b)
        store.discard(b)  // twice is harmless
        #expect(store.heldBytes.file == 0 && store.heldBytes.host == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        #expect(throws: DeviceError.self) { try back.withUnsafeMutableBytes { try store.load(a, into: $0) } }
    }
}
