import TesseraPool

/// The node daemon's rule in Kubernetes mode: a program connecting over the unix socket gets its pod's
/// reservation, found from the kernel's facts — the peer's pid (`SO_PEERCRED`), that process's cgroup
/// (`/proc/<pid>/cgroup`) naming the pod UID, and the controller's reservation for `pod/<UID>` on this node.
/// A process in a pod without such a reservation is refused with the reason; so, by default, is a process in
/// no pod at all. What the program says about itself (its environment) plays no part.
public struct PodReservationClaims: ReservationClaims {
    /// The controller, asked with the node's token.
    public let client: PoolClient
    /// Where `/proc` is: the host's, mounted into the daemon's pod (tests point it at files of their own).
    public let procRoot: String
    /// Whether processes outside every pod (the node's own tools) are placed anew instead of refused.
    public let admitsProcessesOutsidePods: Bool

    public init(client: PoolClient, procRoot: String = "/proc", admitsProcessesOutsidePods: Bool = false) {
        self.client = client
        self.procRoot = procRoot.hasSuffix("/") ? String(procRoot.dropLast()) : procRoot
        self.admitsProcessesOutsidePods = admitsProcessesOutsidePods
    }

    public func reservation(forProcess pid: Int, on nodeName: String) throws(PoolError) -> TesseraPool.Reservation? {
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
        let held: [TesseraPool.Reservation] = try client.get("/v1/reservations?consumer=\(consumer.addingPercentEncodingForQuery())")
        guard let reservation = held.first(where: { $0.vgpus.contains { $0.node == nodeName } }) else {
            throw PoolError(.notFound, "pod \(uid) holds no vGPU reservation on node \(nodeName)")
        }
        return reservation
    }
}
