import TesseraNode
import TesseraPoolAPI
import TesseraWire

extension ControllerPlacement {
    /// In Kubernetes mode every program must belong to a pod of this node with a reservation here: it claims
    /// the reservation (`POST /v1/leases` with it) instead of being placed anew, and gets the reservation's
    /// vGPUs, sizes and compute mode. What the program asked through its environment can shrink the number of
    /// vGPUs it uses, never enlarge anything. Programs over TCP only attach to other nodes' leases: they are
    /// no pod of this node, and placing them anew would bypass the pods' reservations.
    func claimReservation(
        _ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, allowRemote: Bool, on inventory: [GPUCapacity]
    ) throws(PlacementError) -> SessionPlacement {
        guard peer.isLocal, let claims else {
            throw PlacementError("node \(nodeName) serves Kubernetes pods' reservations: connect through its unix socket from a pod")
        }
        let reservation: Reservation?
        do throws(PoolError) {
            reservation = try claims.reservation(forProcess: peer.pid, on: nodeName)
        } catch {
            throw PlacementError(error.message)
        }
        // No reservation and no refusal: the claims admit this process as it is (e.g. the node's own tools).
        guard let reservation else { return try placeAnew(request, session: session, allowRemote: allowRemote, on: inventory) }
        return try claim(reservation, asked: request, session: session, on: inventory)
    }

    private func claim(
        _ reservation: Reservation, asked: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]
    ) throws(PlacementError) -> SessionPlacement {
        let holder = reservation.displayName ?? reservation.consumer
        let here = reservation.vgpus.filter { $0.node == nodeName }
        guard !here.isEmpty else {
            throw PlacementError("\(holder) reserved no vGPU on node \(nodeName)")
        }
        guard asked.count <= here.count else {
            throw PlacementError("\(holder) reserved \(here.count) vGPU(s) on \(nodeName); the program asks for \(asked.count)")
        }
        let lease: Lease
        do throws(PoolError) {
            lease = try client.blocking.post(
                "/v1/leases", LeaseRequest(spec: reservation.spec, requester: nodeName, program: asked.program, owner: asked.owner,
                                           reservation: reservation.id))
        } catch {
            throw PlacementError("cannot claim the reservation of \(holder): \(error.message)")
        }
        let gpus = lease.vgpus.filter { $0.node == nodeName }.prefix(asked.count).map(\.gpu)
        guard gpus.count == asked.count, gpus.allSatisfy({ g in inventory.contains { $0.index == g } }) else {
            try? client.blocking.delete("/v1/leases/\(lease.id)")
            throw PlacementError("the reservation of \(holder) names GPUs this node does not have")
        }
        leases.withLock { $0.own[session] = lease.id }
        let granted = VirtualGPURequest(
            count: asked.count, memoryBytes: reservation.spec.memoryMiB << 20, computePercent: reservation.spec.computePercent,
            computeMode: ComputeMode(parsing: reservation.spec.computeMode) ?? .share, program: asked.program, owner: asked.owner)
        return SessionPlacement(local: gpus, granted: granted)
    }
}
