import TesseraPlacement

/// Where the extender reads capacity and takes reservations.
///
/// ``ControllerReservations`` holds them in the controller (the pool's single source of truth) and answers
/// filter/prioritize from a local mirror of its capacity; ``InProcessReservations`` keeps both in this process
/// (a scheduler without a controller, and benchmarks).
public protocol ReservationService: Sendable {
    /// Filter verdicts and 0…1 scores for `request` on `nodeNames` (unknown nodes do not fit). Must be fast:
    /// kube-scheduler calls it for every pod with every candidate.
    func scores(for request: PlacementRequest, nodeNames: [String]) -> [NodeScore]

    /// Why `request` does not fit on `nodeName`, in words; `nil` when Tessera does not know the node.
    func rejection(of request: VGPURequest, on nodeName: String) -> String?

    /// ``rejection(of:on:)`` for many nodes, in their order; an implementation reads its state once.
    func rejections(of request: VGPURequest, on nodeNames: [String]) -> [String?]

    /// Takes capacity for `request` on `nodeName` under `podUID`. Idempotent: the same pod on the same node gets
    /// its existing reservation back. Throws ``KubernetesError/Code/conflict`` when it no longer fits or the
    /// pod already holds capacity elsewhere. `podLabels` let the pool count it against the group that selects
    /// the pod by label.
    func reserve(
        _ request: VGPURequest, podUID: String, podNamespace: String, podName: String, podLabels: [String: String], on nodeName: String,
        now: Double
    ) async throws(KubernetesError) -> PodReservation

    /// Records that the pod's Binding exists.
    func markBound(podUID: String) async throws(KubernetesError)

    /// Frees the pod's capacity; returns what was held, `nil` when nothing was.
    @discardableResult
    func release(podUID: String) async throws(KubernetesError) -> PodReservation?

    /// The pod's reservation, if any.
    func reservation(podUID: String) async throws(KubernetesError) -> PodReservation?

    /// Every reservation.
    func reservations() async throws(KubernetesError) -> [PodReservation]

    /// Whether filter and prioritize have the pool's capacity to answer from (a mirror filled at least once).
    var isReady: Bool { get }
}

extension ReservationService {
    public var isReady: Bool { true }

    public func rejections(of request: VGPURequest, on nodeNames: [String]) -> [String?] {
        nodeNames.map { rejection(of: request, on: $0) }
    }
}

extension ReservationService {
    /// ``reserve(_:podUID:podNamespace:podName:podLabels:on:now:)`` for a pod without labels.
    public func reserve(
        _ request: VGPURequest, podUID: String, podNamespace: String, podName: String, on nodeName: String, now: Double
    ) async throws(KubernetesError) -> PodReservation {
        try await reserve(request, podUID: podUID, podNamespace: podNamespace, podName: podName, podLabels: [:], on: nodeName, now: now)
    }
}
