/// How fragmented the cluster is, by FGD's measure against the engine's target workload.
public struct FragmentationSummary: Hashable, Sendable {
    /// GPU compute not handed out, in milli.
    public let idleGPUMilli: Int
    /// The part of it the expected workload cannot use (Σ_n F_n(M)), in milli.
    public let fragmentedGPUMilli: Double

    /// Fragmented share of the idle GPU compute, 0…1.
    public var ratio: Double { idleGPUMilli > 0 ? fragmentedGPUMilli / Double(idleGPUMilli) : 0 }
}
