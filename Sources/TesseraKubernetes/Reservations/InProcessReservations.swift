import Synchronization
import TesseraPlacement

/// Capacity and reservations held in this process, behind one lock: the placement engine's view of the
/// cluster's GPUs plus the reservations taken from it, changed together so that they never disagree.
public final class InProcessReservations: ReservationService {
    struct State {
        var engine: PlacementEngine
        var byPod: [String: (PodReservation, Placement, PlacementRequest)] = [:]
    }

    private let state: Mutex<State>

    /// Reservations on `nodes` (their GPUs' capacities), scored by `policy` against `workload`.
    public init(nodes: [PlacementNode], policy: ScoringPolicy = .tessera, workload: TargetWorkload = .commonSlices) throws(KubernetesError) {
        do throws(PlacementEngineError) {
            state = Mutex(State(engine: try PlacementEngine(nodes: nodes, policy: policy, workload: workload)))
        } catch {
            throw KubernetesError(.invalidRequest, "cluster description: \(error.message)")
        }
    }

    public func scores(for request: PlacementRequest, nodeNames: [String]) -> [NodeScore] {
        state.withLock { $0.engine.scores(for: request, nodeNames: nodeNames) }
    }

    public func rejection(of request: VGPURequest, on nodeName: String) -> String? {
        guard let node = state.withLock({ $0.engine.node(named: nodeName) }) else { return nil }
        return request.rejection(on: node)
    }

    public func rejections(of request: VGPURequest, on nodeNames: [String]) -> [String?] {
        let nodes = state.withLock { s in nodeNames.map { s.engine.node(named: $0) } }
        return request.rejections(on: nodes)
    }

    public func reserve(
        _ request: VGPURequest, podUID: String, podNamespace: String, podName: String, podLabels: [String: String], on nodeName: String,
        now: Double
    ) async throws(KubernetesError) -> PodReservation {
        let placementRequest = try request.placementRequest()
        return try state.withLock { (state) throws(KubernetesError) -> PodReservation in
            if let (existing, _, _) = state.byPod[podUID] {
                guard existing.nodeName == nodeName else {
                    throw KubernetesError(
                        .conflict, "pod \(podNamespace)/\(podName) (\(podUID)) already holds capacity on \(existing.nodeName)")
                }
                return existing
            }
            guard let verdict = state.engine.scores(for: placementRequest, nodeNames: [nodeName]).first, verdict.fits else {
                throw KubernetesError(.conflict, "node \(nodeName) can no longer host \(request.summary)")
            }
            let placement = Placement(nodeName: nodeName, nodeIndex: -1, gpuIndices: verdict.gpuIndices, score: verdict.score)
            do throws(PlacementEngineError) {
                try state.engine.allocate(placement, for: placementRequest)
            } catch {
                throw KubernetesError(.conflict, error.message)
            }
            let reservation = PodReservation(
                podUID: podUID, podNamespace: podNamespace, podName: podName, nodeName: nodeName,
                gpuIndices: verdict.gpuIndices, vgpuCount: request.vgpuCount,
                memoryMiBPerVGPU: request.memoryMiBPerVGPU, computePercentPerVGPU: request.computePercentPerVGPU,
                createdAt: now, computeMode: request.computeMode)
            state.byPod[podUID] = (reservation, placement, placementRequest)
            return reservation
        }
    }

    public func markBound(podUID: String) async throws(KubernetesError) {
        try state.withLock { (state) throws(KubernetesError) in
            guard state.byPod[podUID] != nil else {
                throw KubernetesError(.notFound, "no reservation for pod \(podUID)")
            }
            state.byPod[podUID]!.0.bound = true
        }
    }

    @discardableResult
    public func release(podUID: String) async throws(KubernetesError) -> PodReservation? {
        try state.withLock { (state) throws(KubernetesError) -> PodReservation? in
            guard let (reservation, placement, request) = state.byPod.removeValue(forKey: podUID) else { return nil }
            do throws(PlacementEngineError) {
                try state.engine.release(placement, for: request)
            } catch {
                throw KubernetesError(.conflict, "releasing \(podUID): \(error.message)")
            }
            return reservation
        }
    }

    public func reservation(podUID: String) async throws(KubernetesError) -> PodReservation? {
        state.withLock { $0.byPod[podUID]?.0 }
    }

    public func reservations() async throws(KubernetesError) -> [PodReservation] {
        state.withLock { $0.byPod.values.map(\.0) }.sorted { ($0.createdAt, $0.podUID) < ($1.createdAt, $1.podUID) }
    }

    /// The nodes with their current free amounts.
    public var nodes: [PlacementNode] { state.withLock { $0.engine.nodes } }
}
