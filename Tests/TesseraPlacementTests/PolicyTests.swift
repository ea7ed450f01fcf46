import Testing
import TesseraPlacement

/// Each policy's choice on small hand-made clusters, with the arithmetic in the comments.
@Suite struct PolicyTests {
    @Test func bestFitPrefersTheFullestNodeAndTheTightestGPU() throws {
        // n1: leftover 0.5·63/128 + 0.5·3/8 → score 56; n2: 0.5·31/128 + 0.5·2/8 → score 75.
        var engine = try Fixtures.engine([
            Fixtures.node("n1", gpus: 4),
            Fixtures.node("n2", gpus: 4, freeMilli: [1000, 1000, 1000, 0], freeCPU: 32_000),
        ], .bestFit)
        let placement = try unwrap(engine.place(Fixtures.whole(1)))
        #expect(placement.nodeName == "n2" && placement.gpuIndices == [0])
        #expect(placement.score == 0.75)

        var shares = try Fixtures.engine([Fixtures.node("only", gpus: 3, freeMilli: [1000, 600, 300])], .bestFit)
        #expect(shares.place(try Fixtures.share(250))?.gpuIndices == [2])
    }

    @Test func dotProductPrefersTheLeastAlignedNode() throws {
        // x: (128/128)(4/128) + (1/8)(1/8) = 0.047 → 97; y: (8/128)(4/128) + (8/8)(1/8) = 0.127 → 93.
        var engine = try Fixtures.engine([
            Fixtures.node("x", cpu: 128_000, gpus: 1),
            Fixtures.node("y", cpu: 64_000, gpus: 8, freeCPU: 8_000),
        ], .dotProduct)
        let placement = try unwrap(engine.place(Fixtures.whole(1, cpu: 4_000)))
        #expect(placement.nodeName == "x")
        #expect(placement.score == 0.97)
    }

    @Test func packingPrefersSharedGPUsThenUsedNodesThenEmptyOnes() throws {
        var engine = try Fixtures.engine([
            Fixtures.node("empty", gpus: 4),
            Fixtures.node("used-a", gpus: 4, freeMilli: [1000, 1000, 1000, 400]),
            Fixtures.node("shared-b", gpus: 4, freeMilli: [600, 1000, 1000, 1000]),
        ], .packing)
        // A share takes the shared GPU with least free: used-a's 400 (score 96) over shared-b's 600 (94).
        let share = try unwrap(engine.place(Fixtures.share(300)))
        #expect(share.nodeName == "used-a" && share.gpuIndices == [3])
        // A whole GPU on a used node scores 49 on both used nodes (ties break by name), the empty node 29.
        let whole = try unwrap(engine.place(Fixtures.whole(1)))
        #expect(whole.nodeName == "shared-b" && whole.gpuIndices == [1])
    }

    @Test func clusteringPrefersNodesHoldingTheSameClass() throws {
        let nodes = ["a-mixed", "b-same", "c-empty", "d-other"].map { Fixtures.node($0, cpu: 96_000, gpus: 8) }
        var engine = try Fixtures.engine(nodes, .clustering)
        func put(_ request: PlacementRequest, on node: String, gpus: [Int]) throws {
            let index = try #require(engine.nodes.firstIndex { $0.name == node })
            try engine.allocate(Placement(nodeName: node, nodeIndex: index, gpuIndices: gpus, score: 0), for: request)
        }
        try put(Fixtures.share(300), on: "a-mixed", gpus: [0])
        try put(Fixtures.whole(1), on: "a-mixed", gpus: [1])
        try put(Fixtures.share(300), on: "b-same", gpus: [0])
        try put(Fixtures.whole(2), on: "d-other", gpus: [0, 1])

        #expect(engine.place(try Fixtures.share(200))?.nodeName == "b-same")   // only shares there
        #expect(engine.place(try Fixtures.whole(1))?.nodeName == "a-mixed")    // holds 1-GPU pods among others
        #expect(engine.place(try Fixtures.whole(2))?.nodeName == "d-other")    // only 2-GPU pods there
        #expect(engine.place(try Fixtures.whole(4))?.nodeName == "c-empty")    // empty beats other classes
        #expect(engine.place(try Fixtures.cpuOnly(1000))?.nodeName == "a-mixed") // all 0: smallest name
    }

    @Test func fgdPicksTheGPUWhereFragmentationGrowsLeast() throws {
        // Workload: half 500-milli shares, half whole GPUs. n1 = [1000, 500] has F = 0.5·500 = 250.
        // Share on n1's 500: F → 0 (ΔF −250, score ⌊100·σ(0.25)⌋ = 56). On n1's idle GPU or on n2: F rises by
        // 250 (score 43).
        var engine = try Fixtures.engine([
            Fixtures.node("n1", gpus: 2, freeMilli: [1000, 500]),
            Fixtures.node("n2", gpus: 2),
        ], .fgd)
        #expect(engine.fragmentation.fragmentedGPUMilli == 250)
        #expect(engine.fragmentation.idleGPUMilli == 3500)
        let placement = try unwrap(engine.place(Fixtures.share(500)))
        #expect(placement.nodeName == "n1" && placement.gpuIndices == [1])
        #expect(placement.score == 0.56)
        try engine.allocate(placement, for: Fixtures.share(500))
        #expect(engine.fragmentation.fragmentedGPUMilli == 0)
    }

    @Test func fgdKeepsCPUForTheExpectedTasks() throws {
        // Workload: whole GPUs wanting 12 cores. A 40-core CPU-only pod on "a-small" (48 cores) leaves 8 cores:
        // its GPUs become fragments; on "b-big" (104 cores) nothing changes.
        let workload = try TargetWorkload(weights: [(Fixtures.whole(1, cpu: 12_000), 1)])
        var engine = try Fixtures.engine([
            Fixtures.node("a-small", cpu: 48_000, gpus: 2),
            Fixtures.node("b-big", cpu: 104_000, gpus: 2),
        ], .fgd, workload: workload)
        #expect(engine.place(try Fixtures.cpuOnly(40_000))?.nodeName == "b-big")
    }

    @Test func tesseraFillsPartlyUsedGPUs() throws {
        var engine = try Fixtures.engine([
            Fixtures.node("n1", gpus: 2, freeMilli: [1000, 500]),
            Fixtures.node("n2", gpus: 2),
        ], .tessera)
        let placement = try unwrap(engine.place(Fixtures.share(500)))
        #expect(placement.nodeName == "n1" && placement.gpuIndices == [1])
        #expect(placement.score > 0.5 && placement.score <= 1)
    }

    @Test func tesseraSendsCPUOnlyPodsWhereTheyStrandNoGPUs() throws {
        // Workload: whole GPUs wanting 12 cores each. After a 40-core pod, "a-gpu-heavy" (8 GPUs, 96 cores)
        // could feed only 56/12 ≈ 4.7 GPUs; "b-cpu-rich" (2 GPUs, 104 cores) can still feed both. FGD sees no
        // difference (every task still fits both) and takes the smaller name; Tessera avoids stranding GPUs.
        let workload = try TargetWorkload(weights: [(Fixtures.whole(1, cpu: 12_000), 1)])
        let nodes = [Fixtures.node("a-gpu-heavy", cpu: 96_000, gpus: 8), Fixtures.node("b-cpu-rich", cpu: 104_000, gpus: 2)]
        var tessera = try Fixtures.engine(nodes, .tessera, workload: workload)
        var fgd = try Fixtures.engine(nodes, .fgd, workload: workload)
        #expect(tessera.place(try Fixtures.cpuOnly(40_000))?.nodeName == "b-cpu-rich")
        #expect(fgd.place(try Fixtures.cpuOnly(40_000))?.nodeName == "a-gpu-heavy")
    }

    @Test func tesseraLeavesLeftoversThatSmallSharesCanFill() throws {
        // Workload: 470-milli shares and whole GPUs, 45 % each, and rare 160-milli shares (10 %). A 470 share on
        // "a-tight" (530 free) leaves 60 that nothing fits; on "b-roomy" (680 free) it leaves 210, which a 160
        // share fits. Best fit takes the tighter GPU. M′ weighs tasks by (GPUs)^-3.5, so the small share counts
        // most, and T grows by about 60 on a-tight but by about 20 on b-roomy.
        let workload = try TargetWorkload(weights: [
            (Fixtures.share(470), 45), (Fixtures.whole(1), 45), (Fixtures.share(160), 10),
        ])
        let nodes = [
            Fixtures.node("a-tight", gpus: 1, freeMilli: [530]),
            Fixtures.node("b-roomy", gpus: 1, freeMilli: [680]),
        ]
        var tessera = try Fixtures.engine(nodes, .tessera, workload: workload)
        var bestFit = try Fixtures.engine(nodes, .bestFit, workload: workload)
        #expect(tessera.place(try Fixtures.share(470))?.nodeName == "b-roomy")
        #expect(bestFit.place(try Fixtures.share(470))?.nodeName == "a-tight")
    }

    @Test func tesseraBreaksNearTiesTowardsTheFullerNode() throws {
        // Both nodes keep every expected task feasible; the one with less left over wins.
        let workload = try TargetWorkload(weights: [(Fixtures.whole(1), 1)])
        var engine = try Fixtures.engine([
            Fixtures.node("a-empty", gpus: 4),
            Fixtures.node("b-used", gpus: 4, freeMilli: [1000, 1000, 1000, 0]),
        ], .tessera, workload: workload)
        #expect(engine.place(try Fixtures.whole(1))?.nodeName == "b-used")
    }

    @Test(arguments: ScoringPolicy.allCases.filter { $0 != .random })
    func tiesBreakToTheSmallestNameWhateverTheInputOrder(_ policy: ScoringPolicy) throws {
        let nodes = ["node-c", "node-a", "node-b"].map { Fixtures.node($0, gpus: 4) }
        for request in [try Fixtures.whole(1), try Fixtures.share(300), try Fixtures.cpuOnly(2_000), try Fixtures.whole(4)] {
            var engine = try Fixtures.engine(nodes, policy)
            #expect(engine.place(request)?.nodeName == "node-a", "\(policy) \(request)")
            var reversed = try Fixtures.engine(nodes.reversed(), policy)
            #expect(reversed.place(request)?.nodeName == "node-a", "\(policy) \(request)")
        }
    }

    @Test(arguments: ScoringPolicy.allCases)
    func constraintsAreHonoured(_ policy: ScoringPolicy) throws {
        let nodes = [
            Fixtures.node("a-v100", gpus: 4, model: "V100M16", gpuMemory: 16_384),
            Fixtures.node("b-t4", gpus: 2, model: "T4", gpuMemory: 16_384, freeMilli: [1000, 999]),
            Fixtures.node("c-a100", cpu: 8_000, gpus: 2, model: "A100", gpuMemory: 81_920),
        ]
        for _ in 0..<3 {
            var engine = try Fixtures.engine(nodes, policy)
            // Model restrictions.
            #expect(engine.place(try Fixtures.share(300, models: ["T4"]))?.nodeName == "b-t4")
            #expect(engine.place(try Fixtures.share(300, models: ["H100"])) == nil)
            // Whole GPUs must be idle: the T4 node has only one.
            #expect(engine.place(try Fixtures.whole(2, models: ["T4"])) == nil)
            #expect(engine.place(try Fixtures.whole(1, models: ["T4"]))?.gpuIndices == [0])
            // GPU memory: 20 GiB fits only the A100s; CPU: 9 cores do not fit c-a100 (8 cores).
            let big = try PlacementRequest(cpuMilli: 1000, gpuCount: 1, computeMilliPerGPU: 100, gpuMemory: .mebibytes(20_480))
            #expect(engine.place(big)?.nodeName == "c-a100")
            let bigAndBusy = try PlacementRequest(cpuMilli: 9_000, gpuCount: 1, computeMilliPerGPU: 100, gpuMemory: .mebibytes(20_480))
            #expect(engine.place(bigAndBusy) == nil)
            // Host memory.
            #expect(engine.place(try PlacementRequest(hostMemoryMiB: 300_000)) == nil)
            // More GPUs than any node has.
            #expect(engine.place(try Fixtures.whole(5)) == nil)
        }
    }

    @Test func randomIsSeededAndOnlyPicksFittingNodes() throws {
        let nodes = (0..<6).map { Fixtures.node("n\($0)", gpus: 2, freeMilli: $0 == 3 ? [0, 0] : [1000, 1000]) }
        func choices(seed: UInt64) throws -> [String] {
            var engine = try PlacementEngine(nodes: nodes, policy: .random, workload: .empty, seed: seed)
            return try (0..<20).map { _ in try unwrap(engine.place(Fixtures.whole(1))).nodeName }
        }
        let first = try choices(seed: 1)
        #expect(first == (try choices(seed: 1)))
        #expect(first != (try choices(seed: 2)))
        #expect(!first.contains("n3"))
        #expect(Set(first).count > 2)
    }
}
