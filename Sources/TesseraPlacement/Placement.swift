/// Where the engine puts a request: a node and the GPUs on it.
public struct Placement: Hashable, Sendable {
    /// The chosen node's name.
    public let nodeName: String
    /// The chosen node's position in the engine's node list (see ``PlacementEngine/nodes``).
    public let nodeIndex: Int
    /// Device indices of the GPUs on that node, ascending; empty for a CPU-only request.
    public let gpuIndices: [Int]
    /// The policy's score for this choice, 0…1 (higher is better); the same figure the extender reports.
    public let score: Double

    public init(nodeName: String, nodeIndex: Int, gpuIndices: [Int], score: Double) {
        self.nodeName = nodeName
        self.nodeIndex = nodeIndex
        self.gpuIndices = gpuIndices
        self.score = score
    }
}

/// One candidate node's verdict for a scheduler extender: whether the request fits and how good a home it is.
public struct NodeScore: Hashable, Sendable {
    /// The node's name.
    public let nodeName: String
    /// Whether the request fits the node at all (the extender's filter).
    public let fits: Bool
    /// 0…1, higher is better; 0 when the request does not fit.
    public let score: Double
    /// The GPUs the engine would use on this node; empty when it does not fit or for CPU-only requests.
    public let gpuIndices: [Int]
}
