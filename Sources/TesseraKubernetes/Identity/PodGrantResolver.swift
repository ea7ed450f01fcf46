/// Decides what a program connecting to the node daemon may use: the reservation of the pod its process
/// belongs to, established from the kernel's facts — never from what the program says about itself.
///
/// The node daemon learns the peer's pid from `SO_PEERCRED`; the resolver reads that process's cgroup to find
/// the pod UID and returns the pod's reservation on this node. Device IDs that the kubelet handed to Allocate
/// play no part in deciding *which pod* a program belongs to, so two pods admitted at the same moment can never
/// swap their vGPUs.
public struct PodGrantResolver: Sendable {
    /// This node's name; a reservation elsewhere grants nothing here.
    public let nodeName: String
    public let reservations: any ReservationService
    /// Where `/proc` is (the host's, mounted into the daemon's pod).
    public let procRoot: String
    /// When set, the kubelet must also confirm that the pod holds devices of ``resourceName`` on this node.
    public let podResources: (any PodResourcesSource)?
    /// The device plugin's resource, as the kubelet reports it in pod resources.
    public let resourceName: String

    public init(
        nodeName: String, reservations: any ReservationService, procRoot: String = "/proc",
        podResources: (any PodResourcesSource)? = nil, resourceName: String = ResourceNames.standard.vgpu
    ) {
        self.nodeName = nodeName
        self.reservations = reservations
        self.procRoot = procRoot
        self.podResources = podResources
        self.resourceName = resourceName
    }

    /// The reservation the process `pid` may use. Throws ``KubernetesError/Code/notFound`` when it is in no pod
    /// or its pod reserved nothing on this node.
    public func grant(forProcess pid: Int32) async throws(KubernetesError) -> PodReservation {
        let path = "\(procRoot)/\(pid)/cgroup"
        guard let text = readSmallFile(path) else {
            throw KubernetesError(.notFound, "cannot read \(path): the process is gone or not visible")
        }
        guard let uid = PodCgroup.podUID(inCgroupFile: text) else {
            throw KubernetesError(.notFound, "process \(pid) is not in a Kubernetes pod")
        }
        guard let reservation = try await reservations.reservation(podUID: uid), reservation.nodeName == nodeName else {
            throw KubernetesError(.notFound, "pod \(uid) holds no vGPU reservation on node \(nodeName)")
        }
        try await confirmAdmitted(reservation)
        return reservation
    }

    /// Throws unless the kubelet reports devices of ``resourceName`` for the reservation's pod (when a
    /// ``podResources`` source is configured): a reservation alone does not prove the pod was admitted here.
    func confirmAdmitted(_ reservation: PodReservation) async throws(KubernetesError) {
        try await podResources?.confirmAdmitted(
            namespace: reservation.podNamespace, name: reservation.podName, resourceName: resourceName, on: nodeName)
    }
}
