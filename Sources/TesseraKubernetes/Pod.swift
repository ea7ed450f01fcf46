/// The parts of a Kubernetes `v1.Pod` Tessera reads; every other field is ignored when decoding.
public struct Pod: Codable, Sendable, Hashable {
    /// `metadata`.
    public struct Metadata: Codable, Sendable, Hashable {
        public var name: String
        public var namespace: String?
        public var uid: String?
        public var annotations: [String: String]?
        /// The pod's labels (groups may select pods by them).
        public var labels: [String: String]?

        public init(name: String, namespace: String? = nil, uid: String? = nil, annotations: [String: String]? = nil,
                    labels: [String: String]? = nil) {
            self.labels = labels
            self.name = name
            self.namespace = namespace
            self.uid = uid
            self.annotations = annotations
        }
    }

    /// `resources` of a container: quantities as Kubernetes writes them (`"2"`, `"4096"`, `"1Gi"`).
    public struct Resources: Codable, Sendable, Hashable {
        public var limits: [String: String]?
        public var requests: [String: String]?

        public init(limits: [String: String]? = nil, requests: [String: String]? = nil) {
            self.limits = limits
            self.requests = requests
        }
    }

    /// One entry of `spec.containers`.
    public struct Container: Codable, Sendable, Hashable {
        public var name: String
        public var resources: Resources?

        public init(name: String, resources: Resources? = nil) {
            self.name = name
            self.resources = resources
        }
    }

    /// `spec`.
    public struct Spec: Codable, Sendable, Hashable {
        public var containers: [Container]
        public var nodeName: String?
        public var schedulerName: String?

        public init(containers: [Container], nodeName: String? = nil, schedulerName: String? = nil) {
            self.containers = containers
            self.nodeName = nodeName
            self.schedulerName = schedulerName
        }
    }

    /// `status`.
    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?

        public init(phase: String? = nil) { self.phase = phase }
    }

    public var metadata: Metadata
    public var spec: Spec
    public var status: Status?

    public init(metadata: Metadata, spec: Spec, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// `namespace/name`, for messages and keys.
    public var qualifiedName: String { "\(metadata.namespace ?? "default")/\(metadata.name)" }
}
