/// Replays a trace with the FGD paper's protocol.
///
/// Per seed: shuffle the pods with the seed; keep drawing pods uniformly with replacement from the shuffled
/// trace and appending them while the total GPU request stays within `targetLoad` × capacity; place the pods
/// one at a time (no departures, no queue: a pod that fits nowhere fails for good); after each arrival note the
/// arrived GPU request and the allocated GPU compute. Each curve bin (arrived request rounded to a whole % of
/// capacity) is the mean allocation of the arrivals in it, or of the two neighbouring bins when it has none.
public struct TraceReplay: Sendable {
    public let trace: OpenbTrace
    public let configuration: ReplayConfiguration
    /// The target workload built from the trace (FGD's M).
    public let workload: TargetWorkload
    /// GPU capacity of the cluster in milli.
    public let capacityMilli: Int

    public init(trace: OpenbTrace, configuration: ReplayConfiguration = ReplayConfiguration()) throws(PlacementEngineError) {
        guard !trace.nodes.isEmpty else { throw PlacementEngineError(.invalidTrace, "the node list has no GPU nodes") }
        guard !trace.pods.isEmpty else { throw PlacementEngineError(.invalidTrace, "the pod list is empty") }
        guard !configuration.seeds.isEmpty else { throw PlacementEngineError(.invalidArgument, "no seeds") }
        guard configuration.targetLoad > 0, configuration.targetLoad <= 100 else {
            throw PlacementEngineError(.invalidArgument, "target load \(configuration.targetLoad) outside (0, 100]")
        }
        self.trace = trace
        self.configuration = configuration
        workload = TargetWorkload(requests: trace.pods.lazy.map(\.request), coverage: configuration.workloadCoverage)
        capacityMilli = trace.nodes.reduce(0) { $0 + $1.gpus.count * 1000 }
        guard capacityMilli > 0 else { throw PlacementEngineError(.invalidTrace, "the cluster has no GPUs") }
    }

    /// The arrival order for `seed`, as indices into `trace.pods`.
    public func arrivals(seed: UInt64) -> [Int] {
        var random = SeededRandom(seed: seed)
        var order = Array(trace.pods.indices)
        random.shuffle(&order)
        var total = trace.pods.reduce(0) { $0 + $1.request.totalGPUMilli }
        let target = Int((configuration.targetLoad * Double(capacityMilli)).rounded(.down))
        var sequence = order
        let anyGPU = trace.pods.contains { $0.request.totalGPUMilli > 0 }
        while anyGPU && total < target {
            let index = order[random.below(order.count)]
            let request = trace.pods[index].request
            if total + request.totalGPUMilli > target { break }
            sequence.append(index)
            total += request.totalGPUMilli
        }
        return sequence
    }

    /// Runs every seed.
    public func run() throws(PlacementEngineError) -> ReplayReport {
        let binCount = Int((configuration.targetLoad * 100).rounded(.up)) + 2
        var perSeed: [ReplayReport.SeedResult] = []
        var seedCurves: [[SeedBin]] = []
        var latencies: [Int64] = []
        let clock = ContinuousClock()
        for seed in configuration.seeds {
            let started = clock.now
            var engine = try PlacementEngine(
                nodes: trace.nodes, policy: configuration.policy, workload: workload, seed: seed)
            var bins = [SeedBin](repeating: SeedBin(), count: binCount)
            var arrived = 0
            var allocated = 0
            var failures = 0
            let sequence = arrivals(seed: seed)
            if configuration.measureLatency { latencies.reserveCapacity(latencies.count + sequence.count) }
            for index in sequence {
                let request = trace.pods[index].request
                arrived += request.totalGPUMilli
                let placement: Placement?
                if configuration.measureLatency {
                    let before = clock.now
                    placement = engine.place(request)
                    let elapsed = clock.now - before
                    latencies.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                } else {
                    placement = engine.place(request)
                }
                if let placement {
                    try engine.allocate(placement, for: request)
                    allocated += request.totalGPUMilli
                } else {
                    failures += 1
                }
                let bin = Int((Double(arrived) * 100 / Double(capacityMilli)).rounded(.toNearestOrAwayFromZero))
                if bin < binCount {
                    let fragmentation = engine.fragmentation
                    bins[bin].add(
                        allocation: Double(allocated) * 100 / Double(capacityMilli),
                        fragmentation: fragmentation.fragmentedGPUMilli * 100 / Double(capacityMilli),
                        ratio: fragmentation.ratio * 100)
                }
            }
            let curve = SeedBin.smoothed(bins)
            seedCurves.append(curve)
            let elapsed = clock.now - started
            perSeed.append(ReplayReport.SeedResult(
                seed: seed, arrivals: sequence.count, failures: failures,
                unallocatedAt100: curve.count > 100 && curve[100].count > 0 ? 100 - curve[100].allocation : nil,
                unallocatedAt130: curve.count > 130 && curve[130].count > 0 ? 100 - curve[130].allocation : nil,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
        }
        var curve: [ReplayReport.CurvePoint] = []
        for bin in 0..<binCount {
            let present = seedCurves.compactMap { $0[bin].count > 0 ? $0[bin] : nil }
            guard !present.isEmpty else { continue }
            curve.append(ReplayReport.CurvePoint(
                arrivedPercent: bin,
                allocationPercent: .init(present.map(\.allocation)),
                fragmentationPercent: .init(present.map(\.fragmentation)),
                fragmentationRatioPercent: .init(present.map(\.ratio))))
        }
        return ReplayReport(
            policy: configuration.policy, seeds: configuration.seeds, nodes: trace.nodes.count,
            gpus: capacityMilli / 1000, curve: curve, perSeed: perSeed,
            latency: configuration.measureLatency ? Self.latency(latencies) : nil)
    }

    private static func latency(_ samples: [Int64]) -> ReplayReport.Latency? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func percentile(_ p: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]) / 1000
        }
        return ReplayReport.Latency(
            queries: sorted.count, p50Microseconds: percentile(0.5), p99Microseconds: percentile(0.99),
            maxMicroseconds: Double(sorted[sorted.count - 1]) / 1000)
    }
}

/// One seed's sums for one curve bin.
private struct SeedBin {
    var count = 0
    var allocationSum = 0.0
    var fragmentationSum = 0.0
    var ratioSum = 0.0

    var allocation: Double { allocationSum / Double(count) }
    var fragmentation: Double { fragmentationSum / Double(count) }
    var ratio: Double { ratioSum / Double(count) }

    mutating func add(allocation: Double, fragmentation: Double, ratio: Double) {
        count += 1
        allocationSum += allocation
        fragmentationSum += fragmentation
        ratioSum += ratio
    }

    mutating func merge(_ other: SeedBin) {
        count += other.count
        allocationSum += other.allocationSum
        fragmentationSum += other.fragmentationSum
        ratioSum += other.ratioSum
    }

    /// Empty bins take the arrivals of their neighbours (as the paper's analysis does).
    static func smoothed(_ bins: [SeedBin]) -> [SeedBin] {
        bins.indices.map { b in
            if bins[b].count > 0 { return bins[b] }
            var merged = SeedBin()
            for n in max(0, b - 1)...min(bins.count - 1, b + 1) { merged.merge(bins[n]) }
            return merged
        }
    }
}
