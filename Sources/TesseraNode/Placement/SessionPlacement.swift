import TesseraWire

/// Where a session's vGPUs go: GPUs of this node first, then groups on other nodes.
public struct SessionPlacement: Sendable, Hashable {
    /// This node's GPU of each local vGPU, in device order.
    public var local: [Int]
    /// vGPUs on other nodes, one group per node, in device order after the local ones.
    public var remote: [RemotePlacement]
    /// What the session is granted when the policy sized it rather than the program (a pod's reservation);
    /// nil: as asked.
    public var granted: VirtualGPURequest?
    public init(local: [Int], remote: [RemotePlacement] = [], granted: VirtualGPURequest? = nil) {
        self.local = local
        self.remote = remote
        self.granted = granted
    }
}

/// A session's vGPUs on another node: where the program reaches it and what it attaches with.
public struct RemotePlacement: Sendable, Hashable {
    public var node: String
    /// `HOST:PORT` of that node's TCP listener.
    public var endpoint: String
    public var count: Int
    public var credential: AttachCredential
    public init(node: String, endpoint: String, count: Int, credential: AttachCredential) {
        self.node = node
        self.endpoint = endpoint
        self.count = count
        self.credential = credential
    }
}
