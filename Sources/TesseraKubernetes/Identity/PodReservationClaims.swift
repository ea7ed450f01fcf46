import Dispatch
import Synchronization
import TesseraPoolAPI

/// The node daemon's rule in Kubernetes mode: a program connecting over the unix socket gets its pod's
/// reservation, found from the kernel's facts — the peer's pid (`SO_PEERCRED`), that process's cgroup
/// (`/proc/<pid>/cgroup`) naming the pod UID, and the controller's reservation for `pod/<UID>` on this node.
/// A process in a pod without such a reservation is refused with the reason; so, by default, is a process in
/// no pod at all. With a ``podResources`` source (the kubelet's pod-resources API) the kubelet must also report
/// Tessera devices for that pod: a reservation alone does not prove the kubelet admitted the pod here. What the
/// program says about itself (its environment) plays no part.
public struct PodReservationClaims: ReservationClaims {
    /// The controller, asked with the node's token (blocking: claims are decided on the node's session threads).
    public let client: ControllerClient
    /// Where `/proc` is: the host's, mounted into the daemon's pod (tests point it at files of their own).
    public let procRoot: String
    /// Whether processes outside every pod (the node's own tools) are placed anew instead of refused.
    public let admitsProcessesOutsidePods: Bool
    /// The kubelet's record of the pods' devices; nil trusts the cgroup and the controller alone.
    public let podResources: (any PodResourcesSource)?
    /// The device plugin's resource the kubelet must report for the pod.
    public let resourceName: String

    public init(
        client: ControllerClient, procRoot: String = "/proc", admitsProcessesOutsidePods: Bool = false,
        podResources: (any PodResourcesSource)? = nil, resourceName: String = ResourceNames.standard.vgpu
    ) {
        self.client = client
        self.procRoot = procRoot.hasSuffix("/") ? String(procRoot.dropLast()) : procRoot
        self.admitsProcessesOutsidePods = admitsProcessesOutsidePods
        self.podResources = podResources
        self.resourceName = resourceName
    }

    public func reservation(forProcess pid: Int, on nodeName: String) throws(PoolError) -> Reservation? {
        // A TCP peer runs on another machine: its session was granted there, not by a pod of this node.
        guard pid > 0 else { return nil }
        let path = "\(procRoot)/\(pid)/cgroup"
        guard let text = readSmallFile(path) else {
            throw PoolError(.notFound, "cannot read \(path): process \(pid) is gone or not visible to the node")
        }
        guard let uid = PodCgroup.podUID(inCgroupFile: text) else {
            if admitsProcessesOutsidePods { return nil }
            throw PoolError(.notFound, "process \(pid) is in no Kubernetes pod; this node grants vGPUs only to pods that reserved them")
        }
        let consumer = ControllerReservations.consumer(podUID: uid)
        let held: [Reservation] = try client.blocking.get("/v1/reservations?consumer=\(consumer.addingPercentEncodingForQuery())")
        guard let reservation = held.first(where: { $0.vgpus.contains { $0.node == nodeName } }) else {
            throw PoolError(.notFound, "pod \(uid) holds no vGPU reservation on node \(nodeName)")
        }
        try confirmAdmitted(reservation, on: nodeName)
        return reservation
    }

    /// Throws unless the kubelet reports ``resourceName`` devices for the reservation's pod (`namespace/name`).
    /// Called on the node's session threads, never from Swift concurrency's pool: it waits for the kubelet.
    private func confirmAdmitted(_ reservation: Reservation, on nodeName: String) throws(PoolError) {
        guard let podResources else { return }
        let pod = reservation.displayName ?? ""
        guard let slash = pod.firstIndex(of: "/") else {
            throw PoolError(.notFound, "reservation \(reservation.id) names no pod the kubelet could confirm")
        }
        let namespace = String(pod[..<slash]), name = String(pod[pod.index(after: slash)...])
        let resource = resourceName
        let refusal = Mutex<KubernetesError?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do throws(KubernetesError) {
                try await podResources.confirmAdmitted(namespace: namespace, name: name, resourceName: resource, on: nodeName)
            } catch {
                refusal.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let refusal = refusal.withLock({ $0 }) {
            throw PoolError(refusal.code == .notFound ? .notFound : .unavailable, refusal.message)
        }
    }
}
