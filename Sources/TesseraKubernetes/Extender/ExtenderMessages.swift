/// The JSON kube-scheduler exchanges with an extender (scheduler extender API v1). The Go types carry no
/// JSON tags, so keys are PascalCase; they are decoded case-insensitively and emitted PascalCase.

/// A filter or prioritize request: the pod and the candidate nodes, as names (`nodeCacheCapable`) or objects.
public struct ExtenderArgs: Codable, Sendable, Hashable {
    /// The pod being scheduled.
    public var pod: Pod
    /// `v1.NodeList` when the extender is not node-cache capable; kept verbatim.
    public var nodes: JSONValue?
    /// Candidate node names when the extender is node-cache capable.
    public var nodeNames: [String]?

    public init(pod: Pod, nodes: JSONValue? = nil, nodeNames: [String]? = nil) {
        self.pod = pod
        self.nodes = nodes
        self.nodeNames = nodeNames
    }

    public init(from decoder: any Decoder) throws {
        let c = try CaseInsensitiveContainer(decoder)
        guard let pod = try c.decode(Pod.self, "Pod") else {
            throw KubernetesError(.invalidRequest, "extender arguments without a Pod")
        }
        self.pod = pod
        nodes = try c.decode(JSONValue.self, "Nodes")
        nodeNames = try c.decode([String].self, "NodeNames")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(pod, forKey: AnyCodingKey("Pod"))
        try c.encode(nodes ?? .null, forKey: AnyCodingKey("Nodes"))
        if let nodeNames { try c.encode(nodeNames, forKey: AnyCodingKey("NodeNames")) } else { try c.encodeNil(forKey: AnyCodingKey("NodeNames")) }
    }

    /// The candidates' names, from `NodeNames` or else from `Nodes.items[].metadata.name`.
    public var candidateNames: [String] {
        if let nodeNames { return nodeNames }
        guard case .array(let items)? = nodes?["items"] else { return [] }
        return items.compactMap { $0["metadata"]?["name"]?.stringValue }
    }
}

/// A filter response.
public struct ExtenderFilterResult: Codable, Sendable, Hashable {
    /// The nodes kept, as objects (when the request sent objects).
    public var nodes: JSONValue?
    /// The nodes kept, by name (when the request sent names).
    public var nodeNames: [String]?
    /// Rejected nodes and why; preemption may help these.
    public var failedNodes: [String: String]
    /// Rejected nodes that preemption cannot help.
    public var failedAndUnresolvableNodes: [String: String]
    /// Non-empty fails the pod's scheduling cycle.
    public var error: String

    public init(
        nodes: JSONValue? = nil, nodeNames: [String]? = nil, failedNodes: [String: String] = [:],
        failedAndUnresolvableNodes: [String: String] = [:], error: String = ""
    ) {
        self.nodes = nodes
        self.nodeNames = nodeNames
        self.failedNodes = failedNodes
        self.failedAndUnresolvableNodes = failedAndUnresolvableNodes
        self.error = error
    }

    public init(from decoder: any Decoder) throws {
        let c = try CaseInsensitiveContainer(decoder)
        nodes = try c.decode(JSONValue.self, "Nodes")
        nodeNames = try c.decode([String].self, "NodeNames")
        failedNodes = try c.decode([String: String].self, "FailedNodes") ?? [:]
        failedAndUnresolvableNodes = try c.decode([String: String].self, "FailedAndUnresolvableNodes") ?? [:]
        error = try c.decode(String.self, "Error") ?? ""
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(nodes ?? .null, forKey: AnyCodingKey("Nodes"))
        if let nodeNames { try c.encode(nodeNames, forKey: AnyCodingKey("NodeNames")) } else { try c.encodeNil(forKey: AnyCodingKey("NodeNames")) }
        try c.encode(failedNodes, forKey: AnyCodingKey("FailedNodes"))
        try c.encode(failedAndUnresolvableNodes, forKey: AnyCodingKey("FailedAndUnresolvableNodes"))
        try c.encode(error, forKey: AnyCodingKey("Error"))
    }
}

/// One node's score in a prioritize response (a bare JSON array of these), 0…10.
public struct HostPriority: Codable, Sendable, Hashable {
    public var host: String
    public var score: Int64

    public init(host: String, score: Int64) {
        self.host = host
        self.score = score
    }

    public init(from decoder: any Decoder) throws {
        let c = try CaseInsensitiveContainer(decoder)
        host = try c.decode(String.self, "Host") ?? ""
        score = try c.decode(Int64.self, "Score") ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(host, forKey: AnyCodingKey("Host"))
        try c.encode(score, forKey: AnyCodingKey("Score"))
    }
}

/// A bind request.
public struct ExtenderBindingArgs: Codable, Sendable, Hashable {
    public var podName: String
    public var podNamespace: String
    public var podUID: String
    public var node: String

    public init(podName: String, podNamespace: String, podUID: String, node: String) {
        self.podName = podName
        self.podNamespace = podNamespace
        self.podUID = podUID
        self.node = node
    }

    public init(from decoder: any Decoder) throws {
        let c = try CaseInsensitiveContainer(decoder)
        guard let podName = try c.decode(String.self, "PodName"), let node = try c.decode(String.self, "Node"),
              let podUID = try c.decode(String.self, "PodUID")
        else { throw KubernetesError(.invalidRequest, "binding arguments need PodName, PodUID and Node") }
        self.podName = podName
        self.podNamespace = try c.decode(String.self, "PodNamespace") ?? "default"
        self.podUID = podUID
        self.node = node
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(podName, forKey: AnyCodingKey("PodName"))
        try c.encode(podNamespace, forKey: AnyCodingKey("PodNamespace"))
        try c.encode(podUID, forKey: AnyCodingKey("PodUID"))
        try c.encode(node, forKey: AnyCodingKey("Node"))
    }
}

/// A bind response; a non-empty `Error` means the binding failed.
public struct ExtenderBindingResult: Codable, Sendable, Hashable {
    public var error: String

    public init(error: String = "") { self.error = error }

    public init(from decoder: any Decoder) throws {
        error = try CaseInsensitiveContainer(decoder).decode(String.self, "Error") ?? ""
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(error, forKey: AnyCodingKey("Error"))
    }
}
