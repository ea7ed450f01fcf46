import Logging
import ServiceLifecycle
import Synchronization
import TesseraPlacement
import TesseraPoolAPI

/// Reservations held in the controller, the pool's single source of truth: a pod's capacity is reserved there
/// under the consumer `pod/<UID>`, pinned to the node kube-scheduler chose, so extender replicas and restarts
/// lose nothing and the controller's state machine refuses whatever no longer fits.
///
/// Filter and prioritize must answer in milliseconds for every pod, so they read a local mirror of the pool's
/// capacity (every GPU with what is granted on it, from `GET /v1/gpus`) scored by the same ``PlacementEngine``
/// as the controller's. As a ``Service`` it refreshes the mirror periodically and soon after each reserve or
/// release; a reserve also takes its capacity in the mirror at once, so the next pod's filter sees it.
public final class ControllerReservations: ReservationService, Service {
    /// Settings of the mirror and of the reservations taken.
    public struct Configuration: Sendable, Hashable {
        /// The policy scoring nodes for prioritize; the controller's own should match.
        public var policy: ScoringPolicy
        /// Seconds between refreshes of the mirror when nothing asks for one sooner.
        public var refreshIntervalSeconds: Double
        /// Seconds between two refreshes asked for by reserves and releases (a burst of binds causes one).
        public var minimumRefreshSpacingSeconds: Double
        /// Seconds a reservation lives in the controller until its pod's Binding exists; then it is held until
        /// released.
        public var unboundTTLSeconds: Double

        public init(
            policy: ScoringPolicy = .tessera, refreshIntervalSeconds: Double = 5, minimumRefreshSpacingSeconds: Double = 0.2,
            unboundTTLSeconds: Double = 60
        ) {
            self.policy = policy
            self.refreshIntervalSeconds = refreshIntervalSeconds
            self.minimumRefreshSpacingSeconds = minimumRefreshSpacingSeconds
            self.unboundTTLSeconds = unboundTTLSeconds
        }
    }

    /// The controller's consumer name for a pod.
    public static func consumer(podUID: String) -> String { "pod/\(podUID)" }

    struct Mirror {
        var engine: PlacementEngine
        /// Device indices of each node's GPUs, in the engine's order.
        var deviceIndices: [String: [Int]] = [:]
        /// Counts reserves taken locally, to tell whether a refresh may have missed one.
        var localChanges = 0
        var refreshed = false
    }

    public let client: ControllerClient
    public let configuration: Configuration
    private let calls: ControllerCalls
    private let mirror: Mutex<Mirror>
    /// The controller's id of each pod's reservation taken here, saving a lookup when the pod is bound.
    private let knownIDs = Mutex<[String: String]>([:])
    private let refreshes: AsyncStream<Void>
    private let refreshRequests: AsyncStream<Void>.Continuation
    private let logger: Logger

    /// Reservations in the controller `client` talks to; the mirror is empty until the first ``refresh()``.
    public init(client: ControllerClient, configuration: Configuration = .init(), logger: Logger) {
        self.client = client
        self.calls = ControllerCalls(client: client)
        self.configuration = configuration
        self.logger = logger
        mirror = Mutex(Mirror(engine: try! PlacementEngine(nodes: [], policy: configuration.policy, workload: .commonSlices)))
        (refreshes, refreshRequests) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Mirror

    /// Reads the pool's capacity from the controller and replaces the mirror with it.
    public func refresh() async throws(KubernetesError) {
        let before = mirror.withLock { $0.localChanges }
        let gpus: [GPUInfo] = try await calls.get("/v1/gpus")
        let (engine, indices) = try Self.engine(from: gpus, policy: configuration.policy)
        let missedLocalChange = mirror.withLock { m in
            m.engine = engine
            m.deviceIndices = indices
            m.refreshed = true
            return m.localChanges != before
        }
        // A reserve taken during the fetch may be missing from what came back: look again soon.
        if missedLocalChange { refreshRequests.yield() }
    }

    /// Whether the mirror has been filled from the controller at least once.
    public var isReady: Bool { mirror.withLock { $0.refreshed } }

    /// Forgets the ids of pods no longer known (they only save lookups), so the map cannot grow without bound.
    private func forgetIDs(keeping live: Set<String>) {
        knownIDs.withLock { ids in ids = ids.filter { live.contains($0.key) } }
    }

    /// The nodes of the mirror with their free amounts.
    public var nodes: [PlacementNode] { mirror.withLock { $0.engine.nodes } }

    /// Refreshes the mirror every `refreshIntervalSeconds` and when reserves or releases ask, until shutdown.
    public func run() async throws {
        let interval = configuration.refreshIntervalSeconds
        let spacing = configuration.minimumRefreshSpacingSeconds
        let requests = refreshRequests
        refreshRequests.yield()  // at once on start
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: .seconds(interval)) } catch { return }
                        requests.yield()
                    }
                }
                group.addTask {
                    for await _ in self.refreshes {
                        do throws(KubernetesError) {
                            try await self.refresh()
                        } catch {
                            self.logger.warning("cannot refresh the pool's capacity", metadata: ["error": "\(error.message)"])
                        }
                        do { try await Task.sleep(for: .seconds(spacing)) } catch { return }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// The placement engine's view of `gpus`: nodes that are up, each GPU's free amounts after its grants
    /// (an unhealthy GPU has none), as the controller computes them.
    static func engine(from gpus: [GPUInfo], policy: ScoringPolicy) throws(KubernetesError) -> (PlacementEngine, [String: [Int]]) {
        var byNode: [String: [GPUInfo]] = [:]
        var order: [String] = []
        for gpu in gpus where gpu.nodeUp {
            if byNode[gpu.node] == nil { order.append(gpu.node) }
            byNode[gpu.node, default: []].append(gpu)
        }
        var nodes: [PlacementNode] = []
        var indices: [String: [Int]] = [:]
        nodes.reserveCapacity(order.count)
        for name in order {
            let sorted = byNode[name]!.sorted { $0.index < $1.index }
            indices[name] = sorted.map(\.index)
            let engineGPUs = sorted.map { gpu -> GPU in
                // Unhealthy and cordoned GPUs (an administrator's `tessera cordon`) take nothing new.
                let usable = gpu.healthy && gpu.cordoned != true
                let usedMilli = usable ? min(1000, gpu.grantedComputePercent * 10) : 1000
                let usedMemory = usable ? min(gpu.memoryMiB, gpu.grantedMemoryMiB) : gpu.memoryMiB
                return GPU(model: gpu.model, memoryMiB: gpu.memoryMiB, freeMilli: 1000 - usedMilli, freeMemoryMiB: gpu.memoryMiB - usedMemory)
            }
            // CPU and host memory are kube-scheduler's to account, not Tessera's.
            nodes.append(PlacementNode(name: name, cpuMilli: 1 << 30, memoryMiB: 1 << 40, gpus: engineGPUs))
        }
        do throws(PlacementEngineError) {
            return (try PlacementEngine(nodes: nodes, policy: policy, workload: .commonSlices), indices)
        } catch {
            throw KubernetesError(.upstream, "the controller's GPUs make no cluster: \(error.message)")
        }
    }

    /// Takes a reservation's vGPUs in the mirror, so filters see them before the next refresh.
    private func takeLocally(_ reservation: Reservation) {
        mirror.withLock { m in
            m.localChanges += 1
            for vgpu in reservation.vgpus {
                guard let position = m.deviceIndices[vgpu.node]?.firstIndex(of: vgpu.gpu),
                      let share = try? PlacementRequest.sharedGPU(computePercent: vgpu.computePercent, memoryMiB: vgpu.memoryMiB)
                else { continue }
                // A mirror that already holds it (a refresh raced ahead) refuses; the next refresh settles it.
                try? m.engine.allocate(Placement(nodeName: vgpu.node, nodeIndex: -1, gpuIndices: [position], score: 0), for: share)
            }
        }
        refreshRequests.yield()
    }

    // MARK: ReservationService

    public func scores(for request: PlacementRequest, nodeNames: [String]) -> [NodeScore] {
        mirror.withLock { $0.engine.scores(for: request, nodeNames: nodeNames) }
    }

    public func rejection(of request: VGPURequest, on nodeName: String) -> String? {
        guard let node = mirror.withLock({ $0.engine.node(named: nodeName) }) else { return nil }
        return request.rejection(on: node)
    }

    public func rejections(of request: VGPURequest, on nodeNames: [String]) -> [String?] {
        let nodes = mirror.withLock { m in nodeNames.map { m.engine.node(named: $0) } }
        return request.rejections(on: nodes)
    }

    public func reserve(
        _ request: VGPURequest, podUID: String, podNamespace: String, podName: String, podLabels: [String: String], on nodeName: String,
        now: Double
    ) async throws(KubernetesError) -> PodReservation {
        let body = ReservationRequest(
            consumer: Self.consumer(podUID: podUID), spec: request.spec(on: nodeName),
            ttlSeconds: configuration.unboundTTLSeconds, displayName: "\(podNamespace)/\(podName)", unique: true, persistent: true,
            labels: podLabels.isEmpty ? nil : podLabels)
        let held: Reservation
        do throws(KubernetesError) {
            held = try await calls.post("/v1/reservations", body)
        } catch where error.code == .conflict || error.code == .notFound {
            throw KubernetesError(.conflict, "node \(nodeName) can no longer host \(request.summary): \(error.message)")
        }
        guard held.vgpus.allSatisfy({ $0.node == nodeName }) else {
            throw KubernetesError(.conflict, "pod \(podNamespace)/\(podName) (\(podUID)) already holds capacity elsewhere (\(held.id))")
        }
        takeLocally(held)
        knownIDs.withLock { $0[podUID] = held.id }
        return Self.reservation(held)!
    }

    public func markBound(podUID: String) async throws(KubernetesError) {
        if let id = knownIDs.withLock({ $0[podUID] }) {
            do throws(KubernetesError) {
                let held: Reservation = try await calls.post("/v1/reservations/\(id)/hold", ReservationHold(ttlSeconds: nil))
                if held.consumer == Self.consumer(podUID: podUID) { return }
            } catch where error.code == .notFound {
                // Released and taken again meanwhile (another replica): look it up.
            }
        }
        guard let held = try await held(podUID: podUID).first else {
            throw KubernetesError(.notFound, "no reservation for pod \(podUID)")
        }
        let _: Reservation = try await calls.post("/v1/reservations/\(held.id)/hold", ReservationHold(ttlSeconds: nil))
    }

    @discardableResult
    public func release(podUID: String) async throws(KubernetesError) -> PodReservation? {
        knownIDs.withLock { _ = $0.removeValue(forKey: podUID) }
        let held = try await held(podUID: podUID)
        for r in held {
            do throws(KubernetesError) {
                try await calls.delete("/v1/reservations/\(r.id)")
            } catch where error.code == .notFound {
                // Released meanwhile (another replica, or it lapsed): nothing left to free.
            }
        }
        if !held.isEmpty { refreshRequests.yield() }
        return held.first.flatMap(Self.reservation)
    }

    public func reservation(podUID: String) async throws(KubernetesError) -> PodReservation? {
        try await held(podUID: podUID).first.flatMap(Self.reservation)
    }

    public func reservations() async throws(KubernetesError) -> [PodReservation] {
        let all: [Reservation] = try await calls.get("/v1/reservations")
        let pods = all.compactMap(Self.reservation)
        forgetIDs(keeping: Set(pods.map(\.podUID)))
        return pods
    }

    private func held(podUID: String) async throws(KubernetesError) -> [Reservation] {
        let consumer = Self.consumer(podUID: podUID)
        let query = consumer.addingPercentEncodingForQuery()
        return try await calls.get("/v1/reservations?consumer=\(query)")
    }

    /// The Kubernetes view of a controller reservation; `nil` when it is not a pod's.
    static func reservation(_ r: Reservation) -> PodReservation? {
        guard r.consumer.hasPrefix("pod/") else { return nil }
        let name = r.displayName ?? ""
        let slash = name.firstIndex(of: "/")
        return PodReservation(
            podUID: String(r.consumer.dropFirst(4)),
            podNamespace: slash.map { String(name[..<$0]) } ?? "",
            podName: slash.map { String(name[name.index(after: $0)...]) } ?? name,
            nodeName: r.spec.node ?? r.vgpus.first?.node ?? "",
            gpuIndices: r.vgpus.map(\.gpu), vgpuCount: r.spec.vgpus,
            memoryMiBPerVGPU: r.spec.memoryMiB, computePercentPerVGPU: r.spec.computePercent,
            bound: r.expiresAt == nil, createdAt: r.createdAt, computeMode: r.spec.computeMode, controllerID: r.id)
    }
}
