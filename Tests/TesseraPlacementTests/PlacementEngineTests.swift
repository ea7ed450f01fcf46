import Testing
import TesseraPlacement

@Suite struct PlacementEngineTests {
    static let cluster = [
        Fixtures.node("g2-a", cpu: 96_000, memory: 393_216, gpus: 8, model: "G2"),
        Fixtures.node("g2-b", cpu: 96_000, memory: 393_216, gpus: 8, model: "G2"),
        Fixtures.node("t4-a", cpu: 104_000, memory: 524_288, gpus: 2, model: "T4", gpuMemory: 16_384),
        Fixtures.node("p100-a", cpu: 16_000, memory: 122_880, gpus: 2, model: "P100", gpuMemory: 16_384),
        Fixtures.node("v100-a", cpu: 32_000, memory: 131_072, gpus: 4, model: "V100M16", gpuMemory: 16_384),
    ]

    static func mixedRequests() throws -> [PlacementRequest] {
        try [
            Fixtures.share(810, cpu: 3_152), Fixtures.whole(1, cpu: 11_300), Fixtures.share(470, cpu: 8_000),
            Fixtures.cpuOnly(16_000), Fixtures.share(320, cpu: 4_000), Fixtures.whole(2, cpu: 14_000),
            Fixtures.share(160, cpu: 2_000), Fixtures.whole(8, cpu: 64_000), Fixtures.share(650, cpu: 11_908),
            Fixtures.whole(4, cpu: 32_000),
        ]
    }

    static func workload() throws -> TargetWorkload {
        TargetWorkload(requests: try mixedRequests())
    }

    @Test func allocateThenReleaseRestoresEverything() throws {
        var engine = try PlacementEngine(nodes: Self.cluster, policy: .tessera, workload: Self.workload())
        let before = engine.nodes
        let fragmentation = engine.fragmentation
        var placed: [(Placement, PlacementRequest)] = []
        for request in try Self.mixedRequests() {
            if let placement = engine.placeAndAllocate(request) { placed.append((placement, request)) }
        }
        #expect(placed.count >= 5)
        #expect(engine.nodes != before)
        for (placement, request) in placed.reversed() { try engine.release(placement, for: request) }
        #expect(engine.nodes == before)
        #expect(engine.fragmentation.idleGPUMilli == fragmentation.idleGPUMilli)
        #expect(abs(engine.fragmentation.fragmentedGPUMilli - fragmentation.fragmentedGPUMilli) < 1e-6)
    }

    @Test func conflictsLeaveTheStateUntouched() throws {
        var engine = try PlacementEngine(nodes: [Fixtures.node("only", gpus: 1)], policy: .bestFit, workload: .empty)
        let request = try Fixtures.share(600)
        let placement = try unwrap(engine.place(request))
        try engine.allocate(placement, for: request)
        let after = engine.nodes
        #expect(throws: PlacementEngineError.self) { try engine.allocate(placement, for: request) }
        #expect(engine.nodes == after)
        // Wrong GPU count, a GPU index out of range, an unknown node.
        #expect(throws: PlacementEngineError.self) {
            try engine.allocate(Placement(nodeName: "only", nodeIndex: 0, gpuIndices: [], score: 0), for: try Fixtures.share(100))
        }
        #expect(throws: PlacementEngineError.self) {
            try engine.allocate(Placement(nodeName: "only", nodeIndex: 0, gpuIndices: [3], score: 0), for: try Fixtures.share(100))
        }
        do {
            try engine.allocate(Placement(nodeName: "ghost", nodeIndex: 7, gpuIndices: [0], score: 0), for: request)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unknownNode)
        }
        try engine.release(placement, for: request)
        do {
            try engine.release(placement, for: request)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .conflict)
        }
        #expect(engine.nodes == [Fixtures.node("only", gpus: 1)])
    }

    @Test func updateOverwritesFreeAmountsOnly() throws {
        var engine = try PlacementEngine(nodes: Self.cluster, policy: .fgd, workload: Self.workload())
        var node = try #require(engine.node(named: "t4-a"))
        node.freeCPUMilli = 1_000
        node.gpus[0].freeMilli = 0
        node.gpus[0].freeMemoryMiB = 0
        try engine.update(node)
        #expect(engine.node(named: "t4-a") == node)
        // The engine's choices follow: a 2-core CPU-only pod no longer fits t4-a.
        let fits = engine.scores(for: try Fixtures.cpuOnly(2_000), nodeNames: ["t4-a"])
        #expect(fits.first?.fits == false)

        node.cpuMilli = 1
        #expect(throws: PlacementEngineError.self) { try engine.update(node) }
        #expect(throws: PlacementEngineError.self) { try engine.update(Fixtures.node("nowhere", gpus: 1)) }
        #expect(throws: PlacementEngineError.self) {
            try PlacementEngine(nodes: [Fixtures.node("x"), Fixtures.node("x")], workload: .empty)
        }
        #expect(throws: PlacementEngineError.self) {
            try PlacementEngine(nodes: [Fixtures.node("x", gpus: 1, freeMilli: [1200])], workload: .empty)
        }
    }

    @Test(arguments: ScoringPolicy.allCases.filter { $0 != .random })
    func extenderScoresAgreeWithPlacement(_ policy: ScoringPolicy) throws {
        var engine = try PlacementEngine(nodes: Self.cluster, policy: policy, workload: Self.workload())
        let names = Self.cluster.map(\.name) + ["unknown"]
        for request in try Self.mixedRequests() {
            let scores = engine.scores(for: request, nodeNames: names)
            #expect(scores.count == names.count)
            #expect(scores.last?.fits == false)
            #expect(scores.allSatisfy { (0...1).contains($0.score) })
            let placement = engine.place(request)
            if let placement {
                let chosen = try #require(scores.first { $0.nodeName == placement.nodeName })
                #expect(chosen.fits && chosen.gpuIndices == placement.gpuIndices)
                #expect(scores.filter(\.fits).allSatisfy { $0.score <= chosen.score + 1e-9 }, "\(policy) \(request)")
                try engine.allocate(placement, for: request)
            } else {
                #expect(scores.allSatisfy { !$0.fits })
            }
        }
    }

    /// The caches and incremental bookkeeping never go stale: an engine carried through a long sequence makes
    /// the same choices as one built afresh from its state at every step. (Clustering is left out: which
    /// classes a node holds is history, not part of a node's state.)
    @Test(arguments: ScoringPolicy.allCases.filter { $0 != .random && $0 != .clustering })
    func incrementalStateMatchesAFreshEngine(_ policy: ScoringPolicy) throws {
        let requests = try Self.mixedRequests()
        var engine = try PlacementEngine(nodes: Self.cluster, policy: policy, workload: Self.workload())
        var live: [(Placement, PlacementRequest)] = []
        var step = 0
        for round in 0..<60 {
            let request = requests[(round * 7 + round / 3) % requests.count]
            var fresh = try PlacementEngine(nodes: engine.nodes, policy: policy, workload: Self.workload())
            let expected = fresh.place(request)
            let placement = engine.place(request)
            #expect(placement == expected, "step \(step)")
            if let placement {
                try engine.allocate(placement, for: request)
                live.append((placement, request))
            }
            // Now and then a departure, so released resources are reused.
            if round % 4 == 3, !live.isEmpty {
                let (gone, request) = live.remove(at: (round * 5) % live.count)
                try engine.release(gone, for: request)
            }
            step += 1
        }
    }

    @Test func stateSnapshotPlacementNeedsNoEngine() throws {
        let placement = try PlacementEngine.place(
            Fixtures.share(500), on: [Fixtures.node("n1", gpus: 2, freeMilli: [1000, 500]), Fixtures.node("n2", gpus: 2)],
            policy: .fgd, workload: Fixtures.halfSharesHalfWhole())
        #expect(placement?.nodeName == "n1" && placement?.gpuIndices == [1])
    }

    @Test func targetWorkloadKeepsTheMostFrequentShapes() throws {
        let a = try Fixtures.share(500), b = try Fixtures.whole(1), c = try Fixtures.cpuOnly(1000)
        let requests = Array(repeating: a, count: 60) + Array(repeating: b, count: 36) + Array(repeating: c, count: 4)
        let all = TargetWorkload(requests: requests, coverage: 1)
        #expect(all.entries.map(\.probability) == [0.6, 0.36, 0.04])
        let most = TargetWorkload(requests: requests, coverage: 0.95)
        #expect(most.entries.count == 2)
        #expect(abs(most.entries[0].probability - 0.625) < 1e-12)
        // Host memory does not split shapes.
        let other = try PlacementRequest(cpuMilli: 1000, hostMemoryMiB: 99, gpuCount: 1, computeMilliPerGPU: 500)
        #expect(TargetWorkload(requests: [a, other]).entries.count == 1)
    }
}
