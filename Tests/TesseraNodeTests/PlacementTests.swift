import Testing
import TesseraNode
import TesseraWire

@Suite struct PlacementTests {
    let gib = 1 << 30

    @Test func spreadsAcrossGPUsAndNeverOvercommits() throws {
        var ledger = NodeLedger(gpus: [(0, 4 * gib), (1, 4 * gib)])
        let policy = SpreadPlacement()
        #expect(try ledger.admit(session: 1, VirtualGPURequest(count: 2, memoryBytes: gib, computePercent: 30), policy: policy).sorted() == [0, 1])
        #expect(try ledger.admit(session: 2, VirtualGPURequest(count: 2, memoryBytes: 2 * gib, computePercent: 10), policy: policy).count == 2)
        // 2 GiB are left in all, but no single GPU has 2 GiB: refused, with what is free.
        #expect(throws: PlacementError.self) {
            try ledger.admit(session: 3, VirtualGPURequest(count: 1, memoryBytes: 2 * gib, computePercent: 10), policy: policy)
        }
        ledger.release(session: 2)
        #expect(try ledger.admit(session: 3, VirtualGPURequest(count: 1, memoryBytes: 2 * gib, computePercent: 10), policy: policy).count == 1)
        for g in ledger.capacity { #expect(g.grantedMemory <= g.totalMemory && g.grantedComputePercent <= 100) }
    }

    @Test func computeShareLimitsPlacement() throws {
        var ledger = NodeLedger(gpus: [(0, 80 * gib)])
        for s in 1...4 { _ = try ledger.admit(session: UInt64(s), VirtualGPURequest(count: 1, memoryBytes: gib, computePercent: 25), policy: SpreadPlacement()) }
        #expect(throws: PlacementError.self) {
            try ledger.admit(session: 5, VirtualGPURequest(count: 1, memoryBytes: gib, computePercent: 1), policy: SpreadPlacement())
        }
        ledger.release(session: 1)
        ledger.release(session: 1)  // twice is harmless
        #expect(ledger.capacity[0].grantedComputePercent == 75)
    }

    @Test func rejectsMalformedRequests() {
        var ledger = NodeLedger(gpus: [(0, gib)])
        #expect(throws: PlacementError.self) { try ledger.admit(session: 1, VirtualGPURequest(count: 0, memoryBytes: gib, computePercent: 1), policy: SpreadPlacement()) }
        #expect(throws: PlacementError.self) { try ledger.admit(session: 1, VirtualGPURequest(count: 1, memoryBytes: 1000, computePercent: 1), policy: SpreadPlacement()) }
        #expect(throws: PlacementError.self) { try ledger.admit(session: 1, VirtualGPURequest(count: 1, memoryBytes: gib, computePercent: -1), policy: SpreadPlacement()) }
        #expect(throws: PlacementError.self) { try ledger.admit(session: 1, VirtualGPURequest(count: 2, memoryBytes: gib, computePercent: 1), policy: SpreadPlacement()) }
        #expect(ledger.grants.isEmpty && ledger.capacity[0].grantedMemory == 0)
    }

    /// A policy that overcommits is caught by the ledger.
    struct Greedy: PlacementPolicy {
        func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
            Array(repeating: 0, count: request.count)
        }
    }

    @Test func ledgerChecksThePolicy() {
        var ledger = NodeLedger(gpus: [(0, gib)])
        #expect(throws: PlacementError.self) { try ledger.admit(session: 1, VirtualGPURequest(count: 2, memoryBytes: gib, computePercent: 1), policy: Greedy()) }
        #expect(ledger.capacity[0].grantedMemory == 0)
    }

    @Test func sessionPhases() {
        var phase = SessionPhase.greeting
        #expect(phase.action(for: .allocate) != .execute)
        #expect(phase.action(for: .hello) == .greet)
        #expect(phase.action(for: .nodeStatus) == .answerStatus)
        #expect(phase.greeted(accepted: false) == .closed)
        phase = phase.greeted(accepted: true)
        #expect(phase == .serving)
        #expect(phase.action(for: .launchKernel) == .execute)
        if case .reject = phase.action(for: .hello) {} else { Issue.record("second hello accepted") }
        if case .reject = phase.action(for: .reply) {} else { Issue.record("reply accepted from a client") }
        if case .reject = SessionPhase.closed.action(for: .free) {} else { Issue.record("closed session executes") }
    }
}

/// Grants decided outside the node's lock (by a controller) or bound by another node's lease.
@Suite struct LedgerCommitTests {
    let gib = 1 << 30

    @Test func commitsChecksAndAllowsNoLocalGPUs() throws {
        var ledger = NodeLedger(gpus: [(0, 4 * gib)])
        // Some vGPUs elsewhere: only the local ones count here.
        try ledger.commit(session: 1, VirtualGPURequest(count: 3, memoryBytes: 3 * gib, computePercent: 40), gpus: [0])
        #expect(ledger.capacity[0].grantedMemory == 3 * gib)
        // All elsewhere: recorded, holding nothing here.
        try ledger.commit(session: 2, VirtualGPURequest(count: 2, memoryBytes: gib, computePercent: 10), gpus: [])
        #expect(ledger.grants[2]?.gpus == [] && ledger.capacity[0].grantedMemory == 3 * gib)
        // Overcommitting, an unknown GPU, or a session twice: refused, nothing changes.
        #expect(throws: PlacementError.self) { try ledger.commit(session: 3, VirtualGPURequest(count: 1, memoryBytes: 2 * gib, computePercent: 1), gpus: [0]) }
        #expect(throws: PlacementError.self) { try ledger.commit(session: 3, VirtualGPURequest(count: 1, memoryBytes: gib, computePercent: 1), gpus: [7]) }
        #expect(throws: PlacementError.self) { try ledger.commit(session: 1, VirtualGPURequest(count: 1, memoryBytes: gib, computePercent: 1), gpus: [0]) }
        #expect(ledger.capacity[0].grantedMemory == 3 * gib && ledger.capacity[0].grantedComputePercent == 40)
        ledger.release(session: 1)
        ledger.release(session: 2)
        #expect(ledger.capacity[0].grantedMemory == 0 && ledger.grants.isEmpty)
    }
}
