/// How to replay a trace; the defaults are the FGD paper's protocol with Tessera's policy.
public struct ReplayConfiguration: Hashable, Sendable {
    /// The placement policy.
    public var policy: ScoringPolicy
    /// One replay per seed; each shuffles the pods and draws the extra ones differently.
    public var seeds: [UInt64]
    /// Arrivals stop once the GPU request reaches this multiple of the cluster's GPU capacity.
    public var targetLoad: Double
    /// Share of the trace's pods the target workload of FGD's fragmentation measure must cover.
    public var workloadCoverage: Double
    /// Whether to time each placement query (for the latency figures).
    public var measureLatency: Bool

    public init(
        policy: ScoringPolicy = .tessera, seeds: [UInt64] = Array(42...51), targetLoad: Double = 1.3,
        workloadCoverage: Double = 0.95, measureLatency: Bool = true
    ) {
        self.policy = policy
        self.seeds = seeds
        self.targetLoad = targetLoad
        self.workloadCoverage = workloadCoverage
        self.measureLatency = measureLatency
    }

    /// Parses `42-51`, `42`, or `1,5,9-11`.
    public static func parseSeeds(_ text: String) throws(PlacementEngineError) -> [UInt64] {
        var seeds: [UInt64] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                  let low = UInt64(bounds[0].trimmingCharacters()),
                  let high = bounds.count == 2 ? UInt64(bounds[1].trimmingCharacters()) : low,
                  low <= high, high - low < 100_000
            else {
                throw PlacementEngineError(.invalidArgument, "seeds '\(text)': expected a number, a range like 42-51, or a comma-separated list")
            }
            seeds.append(contentsOf: low...high)
        }
        guard !seeds.isEmpty else { throw PlacementEngineError(.invalidArgument, "no seeds in '\(text)'") }
        return seeds
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String { String(self).trimmingASCIISpaces() }
}
