import Testing
import TesseraPlacement

@Suite struct TraceReplayTests {
    /// A small synthetic trace: 4 nodes, 24 GPUs.
    static func smallTrace() throws -> OpenbTrace {
        let nodes = """
            sn,cpu_milli,memory_mib,gpu,model
            a,96000,393216,8,G2
            b,96000,393216,8,G2
            c,104000,524288,2,T4
            d,64000,262144,6,V100M32
            e,32000,65536,0,
            """
        var pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
        let shapes = [(12000, 1, 1000), (6000, 1, 460), (3000, 1, 810), (16000, 0, 0), (24000, 2, 1000), (4000, 1, 320)]
        for i in 0..<40 {
            let (cpu, count, milli) = shapes[i % shapes.count]
            pods += "p\(i),\(cpu),1024,\(count),\(milli)\n"
        }
        return OpenbTrace(
            nodes: try OpenbTrace.parseNodes(nodes, file: "nodes.csv"),
            pods: try OpenbTrace.parsePods(pods, file: "pods.csv"))
    }

    @Test func arrivalsShuffleThenDrawUpToTheTargetLoad() throws {
        let trace = try Self.smallTrace()
        let replay = try TraceReplay(trace: trace, configuration: ReplayConfiguration(seeds: [1]))
        #expect(replay.capacityMilli == 24_000)
        let first = replay.arrivals(seed: 1)
        #expect(first == replay.arrivals(seed: 1))
        #expect(first != replay.arrivals(seed: 2))
        #expect(Set(first.prefix(trace.pods.count)) == Set(trace.pods.indices))
        let total = first.reduce(0) { $0 + trace.pods[$1].request.totalGPUMilli }
        #expect(total <= 31_200 && total > 31_200 - 2_000)
    }

    @Test func reportsCurveFiguresAndJSON() throws {
        let trace = try Self.smallTrace()
        let report = try TraceReplay(trace: trace, configuration: ReplayConfiguration(policy: .fgd, seeds: [1, 2])).run()
        #expect(report.nodes == 4 && report.gpus == 24 && report.perSeed.count == 2)
        let at100 = try #require(report.unallocated(atArrivedPercent: 100))
        #expect(at100.mean >= 0 && at100.mean < 100)
        #expect(report.curve.map(\.arrivedPercent) == report.curve.map(\.arrivedPercent).sorted())
        #expect(report.curve.allSatisfy { $0.allocationPercent.mean <= Double($0.arrivedPercent) + 6 })
        for key in ["\"policy\": \"fgd\"", "\"seeds\": [1, 2]", "\"unallocated_percent_at_100\": {\"mean\": ",
                    "\"unallocated_percent_at_130\": ", "\"curve\": [", "\"arrived_percent\": 100"] {
            #expect(report.json.contains(key), "\(key)")
        }
        #expect(report.text.contains("unallocated GPU % at 100 % arrived"))
    }

    /// The published ordering of the baselines on the real trace (reduced: the `default` trace, 2 seeds).
    /// Published (unallocated GPU % at 100 % arrived): Random 13.70 > DotProd 9.38 > Clustering 8.35 >
    /// Packing 8.22 > BestFit 7.14 > FGD 4.77. Clustering and Packing lie 0.13 apart with a standard deviation
    /// of 0.5 over seeds, so two seeds cannot order them; both must fall between DotProd and BestFit.
    @Test(.enabled(if: SharedTraces.available, "needs ../shared/traces/alibaba-gpu-2023"))
    func baselinesKeepThePublishedOrdering() throws {
        let trace = try SharedTraces.load("default")
        var figures: [ScoringPolicy: Double] = [:]
        for policy in ScoringPolicy.allCases {
            let configuration = ReplayConfiguration(policy: policy, seeds: [42, 43], measureLatency: false)
            let report = try TraceReplay(trace: trace, configuration: configuration).run()
            figures[policy] = try #require(report.unallocated(atArrivedPercent: 100)).mean
        }
        let f = figures
        #expect(f[.random]! > f[.dotProduct]!, "\(f)")
        #expect(f[.dotProduct]! > max(f[.clustering]!, f[.packing]!), "\(f)")
        #expect(min(f[.clustering]!, f[.packing]!) > f[.bestFit]!, "\(f)")
        #expect(f[.bestFit]! > f[.fgd]!, "\(f)")
        #expect(f[.fgd]! > f[.tessera]!, "\(f)")
        // FGD as implemented lands near its published figure.
        #expect(abs(f[.fgd]! - 4.77) < 0.5, "\(f)")
    }
}

/// The Alibaba traces beside the repository (../shared/traces/alibaba-gpu-2023), found from this file's path.
enum SharedTraces {
    static let directory: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // TraceReplayTests.swift, TesseraPlacementTests, Tests
        return parts.joined(separator: "/") + "/../shared/traces/alibaba-gpu-2023"
    }()

    static var available: Bool {
        (try? OpenbTrace(nodesFile: directory + "/openb_node_list_gpu_node.csv",
                         podsFile: directory + "/openb_pod_list_default.csv")) != nil
    }

    static func load(_ variant: String) throws -> OpenbTrace {
        try OpenbTrace(nodesFile: directory + "/openb_node_list_gpu_node.csv",
                       podsFile: directory + "/openb_pod_list_\(variant).csv")
    }
}
