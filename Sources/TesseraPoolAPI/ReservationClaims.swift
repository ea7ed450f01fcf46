/// Which reservation a connecting program must claim, decided from facts about its process that the program
/// cannot forge (Kubernetes: the pod its cgroup places it in).
public protocol ReservationClaims: Sendable {
    /// The reservation the process `pid` (from `SO_PEERCRED`; -1 for a TCP peer) claims on node `nodeName`, or
    /// `nil` when its session is placed anew. Throws, with the reason for the program, when the process may
    /// have nothing here.
    func reservation(forProcess pid: Int, on nodeName: String) throws(PoolError) -> Reservation?
}
