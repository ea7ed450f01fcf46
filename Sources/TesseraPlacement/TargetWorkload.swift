/// The workload the cluster expects: request shapes with their probabilities.
///
/// FGD measures fragmentation against it (a GPU is a fragment when the expected next task cannot use it), and
/// Tessera's policy uses it too. Built from a trace it follows the FGD paper: count each distinct shape
/// (CPU, per-GPU share and memory, GPU count, whole or shared, allowed models — host memory is left out), keep
/// the most frequent until they cover `coverage` of all requests, and renormalise.
public struct TargetWorkload: Hashable, Sendable {
    /// One request shape and how likely the next request is to have it.
    public struct Entry: Hashable, Sendable {
        /// The shape; its host memory is always 0.
        public let request: PlacementRequest
        /// 0…1; the entries' probabilities sum to 1.
        public let probability: Double
    }

    /// The shapes, most frequent first.
    public let entries: [Entry]

    /// A workload from explicit shapes and weights (weights need not sum to 1; they are normalised).
    public init(weights: [(PlacementRequest, Double)]) throws(PlacementEngineError) {
        var merged: [PlacementRequest: Double] = [:]
        for (request, weight) in weights {
            guard weight >= 0, weight.isFinite else {
                throw PlacementEngineError(.invalidArgument, "workload weight \(weight) is not a finite non-negative number")
            }
            merged[request.shape, default: 0] += weight
        }
        let total = merged.values.reduce(0, +)
        let sorted = Self.sortedByWeight(merged)
        entries = total > 0 ? sorted.map { Entry(request: $0.0, probability: $0.1 / total) } : []
    }

    /// The workload of a trace: its most frequent shapes covering `coverage` (0…1] of its requests.
    public init(requests: some Sequence<PlacementRequest>, coverage: Double = 0.95) {
        var counts: [PlacementRequest: Double] = [:]
        var total = 0.0
        for request in requests {
            counts[request.shape, default: 0] += 1
            total += 1
        }
        let sorted = Self.sortedByWeight(counts)
        var kept: [(PlacementRequest, Double)] = []
        var covered = 0.0
        for (shape, count) in sorted where covered < coverage * total {
            kept.append((shape, count))
            covered += count
        }
        entries = kept.map { Entry(request: $0.0, probability: $0.1 / covered) }
    }

    /// No expected workload: every idle GPU counts as a fragment.
    public static let empty = TargetWorkload(entries: [])

    private init(entries: [Entry]) { self.entries = entries }

    /// Most frequent first; equal counts put the larger shape first (CPU, then share, count, models), as FGD's
    /// reference implementation orders them, so the coverage cut is deterministic.
    private static func sortedByWeight(_ counts: [PlacementRequest: Double]) -> [(PlacementRequest, Double)] {
        counts.sorted { a, b in
            if a.value != b.value { return a.value > b.value }
            return Self.shapeOrder(b.key, a.key)
        }.map { ($0.key, $0.value) }
    }

    private static func shapeOrder(_ a: PlacementRequest, _ b: PlacementRequest) -> Bool {
        if a.cpuMilli != b.cpuMilli { return a.cpuMilli < b.cpuMilli }
        if a.computeMilliPerGPU != b.computeMilliPerGPU { return a.computeMilliPerGPU < b.computeMilliPerGPU }
        if a.gpuCount != b.gpuCount { return a.gpuCount < b.gpuCount }
        let am = (a.allowedModels ?? []).sorted().joined(separator: "|")
        let bm = (b.allowedModels ?? []).sorted().joined(separator: "|")
        if am != bm { return am < bm }
        return a.memoryKey < b.memoryKey
    }
}

extension PlacementRequest {
    /// A total order on the GPU memory demand, for deterministic sorting only.
    fileprivate var memoryKey: Int {
        switch gpuMemory {
        case .sameFractionAsCompute: return -1
        case .mebibytes(let mib): return mib
        }
    }
}
