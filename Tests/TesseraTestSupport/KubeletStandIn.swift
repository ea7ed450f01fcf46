import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import TesseraDevicePlugin

/// The kubelet's side of the device-plugin API v1beta1 and the pod-resources API v1, as the kubelet implements
/// them, over real unix sockets under `<kubeletDirectory>`:
/// - serves `v1beta1.Registration` on `device-plugins/kubelet.sock`; on `Register` it checks the version and the
///   resource name, dials `device-plugins/<endpoint>` and calls `GetDevicePluginOptions` before answering (a
///   plugin that registers before serving fails), then keeps a `ListAndWatch` stream open, recording every list;
/// - admits pods' containers (``admit(namespace:name:container:count:)``): picks free healthy devices, asks the
///   plugin `GetPreferredAllocation` and `Allocate`, and records the assignment;
/// - serves `v1.PodResourcesLister` on `pod-resources/kubelet.sock`, answering `List` with ``Record/podResources``.
public final class KubeletStandIn: Sendable {
    public struct Record {
        public var registrations: [V1beta1_RegisterRequest] = []
        public var pluginOptions: [V1beta1_DevicePluginOptions] = []
        /// Every list received on `ListAndWatch`, oldest first.
        public var deviceLists: [[V1beta1_Device]] = []
        public var errors: [String] = []
        public var podResources: [V1_PodResources] = []
        public var listCalls = 0
    }

    public let kubeletDirectory: String
    public let record = Mutex(Record())
    private let endpoints: AsyncStream<String>
    private let endpointsContinuation: AsyncStream<String>.Continuation

    public init(kubeletDirectory: String) {
        self.kubeletDirectory = kubeletDirectory
        (endpoints, endpointsContinuation) = AsyncStream.makeStream()
    }

    public var registrationSocket: String { "\(kubeletDirectory)/device-plugins/kubelet.sock" }
    public var podResourcesSocket: String { "\(kubeletDirectory)/pod-resources/kubelet.sock" }

    public var registrations: [V1beta1_RegisterRequest] { record.withLock { $0.registrations } }
    public var latestDevices: [V1beta1_Device]? { record.withLock { $0.deviceLists.last } }

    /// Serves both sockets and watches registered plugins until cancelled.
    public func run() async throws {
        let registration = GRPCServer(
            transport: HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: registrationSocket), transportSecurity: .plaintext),
            services: [RegistrationHandler(kubelet: self)])
        let podResources = GRPCServer(
            transport: HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: podResourcesSocket), transportSecurity: .plaintext),
            services: [PodResourcesHandler(kubelet: self)])
        await withDiscardingTaskGroup { group in
            group.addTask { try? await registration.serve() }
            group.addTask { try? await podResources.serve() }
            for await endpoint in endpoints {
                group.addTask { await self.watch(endpoint: endpoint) }
            }
            registration.beginGracefulShutdown()
            podResources.beginGracefulShutdown()
            group.cancelAll()
        }
    }

    /// Dials the plugin and asks its options, as the kubelet does while handling `Register`.
    fileprivate func dialPlugin(endpoint: String) async throws -> V1beta1_DevicePluginOptions {
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        options.waitForReady = false
        let transport = try HTTP2ClientTransport.Posix(
            target: .unixDomainSocket(path: "\(kubeletDirectory)/device-plugins/\(endpoint)"), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            try await V1beta1_DevicePlugin.Client(wrapping: client).getDevicePluginOptions(V1beta1_Empty(), options: options)
        }
    }

    fileprivate func accepted(_ request: V1beta1_RegisterRequest, options: V1beta1_DevicePluginOptions) {
        record.withLock {
            $0.registrations.append(request)
            $0.pluginOptions.append(options)
        }
        endpointsContinuation.yield(request.endpoint)
    }

    /// Keeps `ListAndWatch` open and records each list, until the stream ends or the stand-in stops.
    private func watch(endpoint: String) async {
        do {
            let transport = try HTTP2ClientTransport.Posix(
                target: .unixDomainSocket(path: "\(kubeletDirectory)/device-plugins/\(endpoint)"), transportSecurity: .plaintext)
            try await withGRPCClient(transport: transport) { client in
                try await V1beta1_DevicePlugin.Client(wrapping: client).listAndWatch(V1beta1_Empty()) { response in
                    for try await message in response.messages {
                        self.record.withLock { $0.deviceLists.append(message.devices) }
                    }
                }
            }
        } catch {
            record.withLock { $0.errors.append("ListAndWatch on \(endpoint): \(error)") }
        }
    }

    /// What the kubelet got for one admitted container: the device IDs it assigned and the plugin's answer.
    public struct Admission: Sendable {
        public var deviceIDs: [String]
        public var response: V1beta1_ContainerAllocateResponse
    }

    /// Admits container `container` of pod `namespace/name` asking for `count` devices of the registered resource,
    /// as the kubelet's device manager does: from the healthy devices of the latest `ListAndWatch` list that no
    /// admitted container holds, it asks the plugin's `GetPreferredAllocation` (when the plugin offers it), calls
    /// `Allocate` with the chosen IDs, and records them for the pod-resources API. Throws when too few devices are
    /// free or the plugin refuses.
    public func admit(namespace: String, name: String, container: String, count: Int) async throws -> Admission {
        let (registration, options, devices, held) = record.withLock { record in
            (record.registrations.last, record.pluginOptions.last, record.deviceLists.last ?? [],
             Set(record.podResources.flatMap { $0.containers.flatMap { $0.devices.flatMap(\.deviceIds) } }))
        }
        guard let registration else { throw RPCError(code: .failedPrecondition, message: "no device plugin registered") }
        let available = devices.filter { $0.health == "Healthy" && !held.contains($0.id) }.map(\.id)
        guard available.count >= count else {
            throw RPCError(code: .resourceExhausted, message: "\(registration.resourceName): \(count) requested, \(available.count) free")
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .unixDomainSocket(path: "\(kubeletDirectory)/device-plugins/\(registration.endpoint)"), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            let plugin = V1beta1_DevicePlugin.Client(wrapping: client)
            var chosen = Array(available.prefix(count))
            if options?.getPreferredAllocationAvailable == true {
                let preferred = try await plugin.getPreferredAllocation(.with {
                    $0.containerRequests = [.with {
                        $0.availableDeviceIds = available
                        $0.allocationSize = Int32(count)
                    }]
                })
                let ids = preferred.containerResponses.first?.deviceIds ?? []
                // The kubelet uses the preference only when it is a valid choice.
                if ids.count == count, Set(ids).count == count, ids.allSatisfy(available.contains) { chosen = ids }
            }
            let response = try await plugin.allocate(.with { $0.containerRequests = [.with { $0.devicesIds = chosen }] })
            guard let answer = response.containerResponses.first, response.containerResponses.count == 1 else {
                throw RPCError(code: .internalError, message: "Allocate answered \(response.containerResponses.count) containers for 1")
            }
            self.record.withLock { record in
                var pod = record.podResources.first { $0.namespace == namespace && $0.name == name } ?? .with {
                    $0.namespace = namespace
                    $0.name = name
                }
                pod.containers.append(.with {
                    $0.name = container
                    $0.devices = [.with {
                        $0.resourceName = registration.resourceName
                        $0.deviceIds = chosen
                    }]
                })
                record.podResources.removeAll { $0.namespace == namespace && $0.name == name }
                record.podResources.append(pod)
            }
            return Admission(deviceIDs: chosen, response: answer)
        }
    }

    /// Forgets pod `namespace/name` as the kubelet does once it is deleted: its devices are free again.
    public func remove(namespace: String, name: String) {
        record.withLock { $0.podResources.removeAll { $0.namespace == namespace && $0.name == name } }
    }

    /// Polls `condition` every 20 ms for up to `seconds` (a generous bound, not a speed requirement: on a
    /// 2-core machine the whole suite's blocking tests can hold the concurrency pool for long stretches).
    public func wait(upTo seconds: Double = 120, _ condition: (Record) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        while clock.now < deadline {
            if record.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return record.withLock { condition($0) }
    }
}

private struct RegistrationHandler: V1beta1_Registration.SimpleServiceProtocol {
    let kubelet: KubeletStandIn

    func register(request: V1beta1_RegisterRequest, context: ServerContext) async throws -> V1beta1_Empty {
        guard request.version == "v1beta1" else {
            throw RPCError(code: .invalidArgument, message: "unsupported device plugin API version \(request.version)")
        }
        let parts = request.resourceName.split(separator: "/")
        guard parts.count == 2, parts[0].contains("."), !request.resourceName.hasPrefix("kubernetes.io/") else {
            throw RPCError(code: .invalidArgument, message: "invalid extended resource name \(request.resourceName)")
        }
        guard !request.endpoint.contains("/") else {
            throw RPCError(code: .invalidArgument, message: "endpoint must be a base name, got \(request.endpoint)")
        }
        let options: V1beta1_DevicePluginOptions
        do {
            options = try await kubelet.dialPlugin(endpoint: request.endpoint)
        } catch {
            throw RPCError(code: .unavailable, message: "cannot dial plugin at \(request.endpoint): \(error)")
        }
        kubelet.accepted(request, options: options)
        return V1beta1_Empty()
    }
}

private struct PodResourcesHandler: V1_PodResourcesLister.SimpleServiceProtocol {
    let kubelet: KubeletStandIn

    func list(request: V1_ListPodResourcesRequest, context: ServerContext) async throws -> V1_ListPodResourcesResponse {
        let pods = kubelet.record.withLock { record in
            record.listCalls += 1
            return record.podResources
        }
        return .with { $0.podResources = pods }
    }

    func getAllocatableResources(
        request: V1_AllocatableResourcesRequest, context: ServerContext
    ) async throws -> V1_AllocatableResourcesResponse {
        throw RPCError(code: .unimplemented, message: "not used by Tessera")
    }

    func get(request: V1_GetPodResourcesRequest, context: ServerContext) async throws -> V1_GetPodResourcesResponse {
        let pod = kubelet.record.withLock { $0.podResources.first { $0.namespace == request.podNamespace && $0.name == request.podName } }
        guard let pod else { throw RPCError(code: .notFound, message: "pod \(request.podNamespace)/\(request.podName) not found") }
        return .with { $0.podResources = pod }
    }
}
