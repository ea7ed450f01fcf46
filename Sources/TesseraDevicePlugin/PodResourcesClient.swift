import GRPCCore
import GRPCNIOTransportHTTP2
import TesseraKubernetes

/// Asks the kubelet's pod-resources API (v1, `List` over `<kubelet>/pod-resources/kubelet.sock`) which
/// devices each pod on this node holds: the kubelet's own admission record, which no container can forge.
///
/// Each query opens a connection, lists, and closes it; it is used when a program connects, not per call.
public struct PodResourcesClient: PodResourcesSource {
    /// The devices of one resource that the kubelet assigned to one pod, per container.
    public struct PodDevices: Sendable, Hashable {
        public var namespace: String
        public var name: String
        /// Container name → device IDs, for containers holding any.
        public var containers: [String: [String]]

        public init(namespace: String, name: String, containers: [String: [String]]) {
            self.namespace = namespace
            self.name = name
            self.containers = containers
        }

        /// Every device ID of the pod, container by container (sorted by container name).
        public var deviceIDs: [String] { containers.keys.sorted().flatMap { containers[$0]! } }
    }

    /// The kubelet's pod-resources socket.
    public let socketPath: String
    /// How long one `List` may take.
    public let timeout: Duration

    public init(socketPath: String, timeout: Duration = .seconds(5)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// The client for the socket the configuration names.
    public init(configuration: DevicePluginConfiguration, timeout: Duration = .seconds(5)) {
        self.init(socketPath: configuration.podResourcesSocket, timeout: timeout)
    }

    /// Every pod on this node holding devices of `resourceName`. Throws ``KubernetesError/Code/upstream`` when
    /// the kubelet cannot be asked.
    public func pods(holding resourceName: String) async throws(KubernetesError) -> [PodDevices] {
        let response = try await list()
        return response.podResources.compactMap { pod in
            var containers: [String: [String]] = [:]
            for container in pod.containers {
                let ids = container.devices.filter { $0.resourceName == resourceName }.flatMap(\.deviceIds)
                if !ids.isEmpty { containers[container.name, default: []].append(contentsOf: ids) }
            }
            return containers.isEmpty ? nil : PodDevices(namespace: pod.namespace, name: pod.name, containers: containers)
        }
    }

    public func deviceIDs(namespace: String, name: String, resourceName: String) async throws(KubernetesError) -> [String] {
        try await pods(holding: resourceName).first { $0.namespace == namespace && $0.name == name }?.deviceIDs ?? []
    }

    /// The raw `List` answer.
    func list() async throws(KubernetesError) -> V1_ListPodResourcesResponse {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        do {
            let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
            return try await withGRPCClient(transport: transport) { client in
                try await V1_PodResourcesLister.Client(wrapping: client).list(V1_ListPodResourcesRequest(), options: options)
            }
        } catch {
            throw KubernetesError(.upstream, "kubelet pod-resources List over \(socketPath) failed: \(error)")
        }
    }
}
