/// What a replay found, over all its seeds.
public struct ReplayReport: Hashable, Sendable {
    /// Mean and sample standard deviation over seeds.
    public struct Statistic: Hashable, Sendable {
        public let mean: Double
        public let sd: Double

        init(_ values: [Double]) {
            let n = Double(values.count)
            mean = values.isEmpty ? .nan : values.reduce(0, +) / n
            let m = mean
            sd = values.count < 2 ? 0 : (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot()
        }
    }

    /// One bin of the curve: arrived GPU request as a whole percentage of capacity.
    public struct CurvePoint: Hashable, Sendable {
        /// Arrived GPU request, % of the cluster's GPU capacity (rounded to the nearest integer).
        public let arrivedPercent: Int
        /// Allocated GPU compute, % of capacity.
        public let allocationPercent: Statistic
        /// FGD's fragmented GPU compute, % of capacity.
        public let fragmentationPercent: Statistic
        /// Fragmented share of the idle GPU compute, %.
        public let fragmentationRatioPercent: Statistic
    }

    /// One seed's outcome.
    public struct SeedResult: Hashable, Sendable {
        public let seed: UInt64
        public let arrivals: Int
        public let failures: Int
        /// Unallocated GPU % at 100 % and 130 % arrived (`nil` when the replay never got there).
        public let unallocatedAt100: Double?
        public let unallocatedAt130: Double?
        public let seconds: Double
    }

    /// Placement query latency over every query of every seed, in microseconds.
    public struct Latency: Hashable, Sendable {
        public let queries: Int
        public let p50Microseconds: Double
        public let p99Microseconds: Double
        public let maxMicroseconds: Double
    }

    public let policy: ScoringPolicy
    public let seeds: [UInt64]
    public let nodes: Int
    public let gpus: Int
    public let curve: [CurvePoint]
    public let perSeed: [SeedResult]
    /// `nil` when latency was not measured.
    public let latency: Latency?

    /// Unallocated GPU % (100 − allocation) at `arrivedPercent`, over seeds.
    public func unallocated(atArrivedPercent arrivedPercent: Int) -> Statistic? {
        let values = perSeed.compactMap { seed -> Double? in
            switch arrivedPercent {
            case 100: return seed.unallocatedAt100
            case 130: return seed.unallocatedAt130
            default: return nil
            }
        }
        if values.count == perSeed.count, !values.isEmpty { return Statistic(values) }
        guard let point = curve.first(where: { $0.arrivedPercent == arrivedPercent }) else { return nil }
        return Statistic(mean: 100 - point.allocationPercent.mean, sd: point.allocationPercent.sd)
    }

    /// Wall-clock seconds per seed's replay.
    public var secondsPerReplay: Statistic { Statistic(perSeed.map(\.seconds)) }
}

extension ReplayReport.Statistic {
    init(mean: Double, sd: Double) {
        self.mean = mean
        self.sd = sd
    }
}
