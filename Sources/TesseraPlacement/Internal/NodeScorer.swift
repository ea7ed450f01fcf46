/// One node's verdict for one request: a score (higher is better; `-infinity` when the request does not fit)
/// and, for a GPU share, the GPU the policy picked on that node (-1: the default choice, see
/// ``NodeScorer/defaultGPUs(for:on:)``).
struct Evaluation: Sendable {
    var score: Double
    var gpu: Int32

    static let doesNotFit = Evaluation(score: -.infinity, gpu: -1)
    var fits: Bool { score > -.infinity }
}

/// What a scorer sees of a node.
struct NodeView {
    let cpuFree: Int
    let gpus: UnsafeBufferPointer<GPUState>
    /// The node's current F_n(M).
    let fragmentation: Double
    /// The node's current cost under the policy's own measure (Tessera's T_n; 0 for other policies).
    let cost: Double
    /// Clustering class → requests of that class on the node.
    let affinity: [Int: Int]

    var freeGPUMilli: Int {
        var total = 0
        for gpu in gpus { total += Int(gpu.freeMilli) }
        return total
    }
}

/// Scores nodes for requests under one policy. Pure: the result depends only on the node and the request, which
/// is what lets the engine cache it per node version.
struct NodeScorer: Sendable {
    let policy: ScoringPolicy
    /// FGD's measure against the target workload: the FGD policy's guide and what reports show.
    let fragmentation: FragmentationModel
    /// Tessera's node cost; set for the Tessera policy only.
    let tesseraCost: TesseraCostModel?

    init(policy: ScoringPolicy, workload: TargetWorkload, modelIDs: [String: Int32]) {
        self.policy = policy
        fragmentation = FragmentationModel(workload: workload, modelIDs: modelIDs)
        tesseraCost = policy == .tessera ? TesseraCostModel(workload: workload, modelIDs: modelIDs) : nil
    }

    /// The policy's own cost of a node in this state (cached by the engine per node).
    func cost(cpuFree: Int, gpus: UnsafeBufferPointer<GPUState>) -> Double {
        tesseraCost?.cost(cpuFree: cpuFree, gpus: gpus) ?? 0
    }

    /// Largest CPU and GPU of a node the published baselines normalise by: 128 cores, 8 GPUs.
    static let maxSpecCPU = 128_000.0
    static let maxSpecGPU = 8_000.0

    func evaluate(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        guard node.cpuFree >= request.cpu else { return .doesNotFit }
        if request.gpuCount > 0 {
            var usable = 0
            for gpu in node.gpus where request.fits(gpu) { usable += 1 }
            guard usable >= request.gpuCount else { return .doesNotFit }
        }
        switch policy {
        case .random: return Evaluation(score: 0, gpu: -1)
        case .bestFit: return bestFit(request, on: node)
        case .dotProduct: return dotProduct(request, on: node)
        case .packing: return packing(request, on: node)
        case .clustering: return clustering(request, on: node)
        case .fgd: return fgd(request, on: node)
        case .tessera: return tessera(request, on: node)
        }
    }

    /// A score on the 0…1 scale the extender reports.
    func normalized(_ score: Double) -> Double {
        guard score > -.infinity else { return 0 }
        switch policy {
        case .tessera: return tesseraNormalized(score)
        default: return min(1, max(0, score / 100))
        }
    }

    /// The GPU with the least free compute that still fits (ties: lowest index); the published baselines'
    /// GPU choice for a share.
    static func tightestGPU(for request: ResolvedRequest, on gpus: UnsafeBufferPointer<GPUState>) -> Int32 {
        var best = -1
        for i in gpus.indices where request.fits(gpus[i]) {
            if best < 0 || gpus[i].freeMilli < gpus[best].freeMilli { best = i }
        }
        return Int32(best)
    }

    /// GPUs for a request when the policy picked none: whole GPUs take the first idle ones by index; shares of
    /// several GPUs take the tightest-fitting ones (stable in index order).
    static func defaultGPUs(for request: ResolvedRequest, on gpus: UnsafeBufferPointer<GPUState>) -> [Int] {
        guard request.gpuCount > 0 else { return [] }
        var candidates = gpus.indices.filter { request.fits(gpus[$0]) }
        if !request.whole {
            candidates.sort { a, b in
                gpus[a].freeMilli != gpus[b].freeMilli ? gpus[a].freeMilli < gpus[b].freeMilli : a < b
            }
        }
        return Array(candidates.prefix(request.gpuCount)).sorted()
    }
}
