import TesseraPlacement

/// Where the extender reads capacity and takes reservations.
///
/// ``InProcessReservations`` keeps both in this process; the controller's reservation API replaces it (a
/// client that mirrors node capacity locally for filter/prioritize and reserves through the controller).
public protocol ReservationService: Sendable {
    /// Filter verdicts and 0…1 scores for `request` on `nodeNames` (unknown nodes do not fit). Must be fast:
    /// kube-scheduler calls it for every pod with every candidate.
    func scores(for request: PlacementRequest, nodeNames: [String]) -> [NodeScore]

    /// Why `request` does not fit on `nodeName`, in words; `nil` when Tessera does not know the node.
    func rejection(of request: VGPURequest, on nodeName: String) -> String?

    /// Takes capacity for `request` on `nodeName` under `podUID`. Idempotent: the same pod on the same node gets
    /// its existing reservation back. Throws ``KubernetesError/Code/conflict`` when it no longer fits or the
    /// pod already holds capacity elsewhere.
    func reserve(
        _ request: VGPURequest, podUID: String, podNamespace: String, podName: String, on nodeName: String,
        now: Double
    ) async throws(KubernetesError) -> Reservation

    /// Records that the pod's Binding exists.
    func markBound(podUID: String) async throws(KubernetesError)

    /// Frees the pod's capacity; returns what was held, `nil` when nothing was.
    @discardableResult
    func release(podUID: String) async throws(KubernetesError) -> Reservation?

    /// The pod's reservation, if any.
    func reservation(podUID: String) async throws(KubernetesError) -> Reservation?

    /// Every reservation.
    func reservations() async throws(KubernetesError) -> [Reservation]
}
