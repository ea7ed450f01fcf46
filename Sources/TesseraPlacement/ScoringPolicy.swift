/// How the engine chooses among the nodes (and the GPUs on a node) that fit a request.
///
/// All but ``tessera`` reproduce the policies compared in "Beware of Fragmentation" (USENIX ATC'23), with
/// their integer 0…100 scores, so that equal scores tie as they did there. Ties between nodes always break to
/// the lexicographically smallest node name. See docs/placement.md for the definitions.
public enum ScoringPolicy: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// A uniformly random node among those that fit, and a random fitting GPU on it.
    case random
    /// Least CPU and GPU left over: minimise 0.5·CPU-left/128 cores + 0.5·GPU-left/8 GPUs.
    case bestFit = "bestfit"
    /// Tetris-style: minimise the dot product of the node's free (CPU, GPU) vector with the request's.
    case dotProduct = "dotprod"
    /// Prefer an already-shared GPU with least free, then free GPUs on used nodes, then empty nodes.
    case packing
    /// Prefer nodes already holding pods of the same class (GPU share, or the same number of whole GPUs).
    case clustering
    /// Fragmentation Gradient Descent as published: the node and GPU where the expected fragmentation of the
    /// target workload grows least, scored `⌊100·sigmoid(ΔF/1000)⌋`.
    case fgd
    /// Tessera's default; see docs/placement.md.
    case tessera

    /// The policy's command-line name.
    public var description: String { rawValue }

    /// Parses a policy name, case-insensitively; accepts a few spellings (`best-fit`, `dot-product`, …).
    public init(name: String) throws(PlacementEngineError) {
        let key = name.lowercased().filter { $0 != "-" && $0 != "_" }
        switch key {
        case "random": self = .random
        case "bestfit": self = .bestFit
        case "dotprod", "dotproduct": self = .dotProduct
        case "packing", "gpupacking": self = .packing
        case "clustering", "gpuclustering": self = .clustering
        case "fgd": self = .fgd
        case "tessera", "default": self = .tessera
        default:
            throw PlacementEngineError(
                .invalidArgument,
                "unknown policy '\(name)'; expected one of \(ScoringPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }
}
