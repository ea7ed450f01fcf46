/// Capacity held for one pod on one node, keyed by the pod's UID: what the node later grants that pod's
/// programs, and nothing else.
public struct PodReservation: Codable, Sendable, Hashable {
    /// The pod's UID, the key: a pod re-created under the same name is a different pod.
    public var podUID: String
    public var podNamespace: String
    public var podName: String
    /// The node holding the capacity.
    public var nodeName: String
    /// Device indices of the node's GPUs, one per vGPU (spread) or one for all (pack).
    public var gpuIndices: [Int]
    /// Number of vGPUs.
    public var vgpuCount: Int
    /// Memory of each vGPU in MiB.
    public var memoryMiBPerVGPU: Int
    /// Compute of each vGPU in percent.
    public var computePercentPerVGPU: Int
    /// Whether the Kubernetes Binding was created; an unbound reservation expires.
    public var bound: Bool
    /// Seconds since the epoch when the capacity was taken.
    public var createdAt: Double
    /// `"share"` or `"limit"`: how each vGPU's compute share is enforced.
    public var computeMode: String
    /// The controller's id of the reservation, when the controller holds it (what a node claims).
    public var controllerID: String?

    public init(
        podUID: String, podNamespace: String, podName: String, nodeName: String, gpuIndices: [Int], vgpuCount: Int,
        memoryMiBPerVGPU: Int, computePercentPerVGPU: Int, bound: Bool = false, createdAt: Double,
        computeMode: String = "share", controllerID: String? = nil
    ) {
        self.podUID = podUID
        self.podNamespace = podNamespace
        self.podName = podName
        self.nodeName = nodeName
        self.gpuIndices = gpuIndices
        self.vgpuCount = vgpuCount
        self.memoryMiBPerVGPU = memoryMiBPerVGPU
        self.computePercentPerVGPU = computePercentPerVGPU
        self.bound = bound
        self.createdAt = createdAt
        self.computeMode = computeMode
        self.controllerID = controllerID
    }
}
