import TesseraNode
import TesseraWire

extension ControllerPlacement {
    /// A session whose process has a reservation claims it (`POST /v1/leases` with the reservation) instead of
    /// being placed anew, and gets the reservation's vGPUs, sizes and compute mode: what the program asked
    /// through its environment can shrink the number of vGPUs it uses, never enlarge anything.
    public func admit(
        _ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, on inventory: [GPUCapacity]
    ) throws(TesseraNode.PlacementError) -> Admission {
        let reservation: Reservation?
        do throws(PoolError) {
            reservation = try claims?.reservation(forProcess: peer.pid, on: nodeName)
        } catch {
            throw TesseraNode.PlacementError(error.message)
        }
        guard let reservation else { return Admission(gpus: try place(request, session: session, on: inventory), request: request) }
        return try claim(reservation, asked: request, session: session, on: inventory)
    }

    private func claim(
        _ reservation: Reservation, asked: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]
    ) throws(TesseraNode.PlacementError) -> Admission {
        let holder = reservation.displayName ?? reservation.consumer
        let here = reservation.vgpus.filter { $0.node == nodeName }
        guard !here.isEmpty else {
            throw TesseraNode.PlacementError("\(holder) reserved no vGPU on node \(nodeName)")
        }
        guard asked.count <= here.count else {
            throw TesseraNode.PlacementError("\(holder) reserved \(here.count) vGPU(s) on \(nodeName); the program asks for \(asked.count)")
        }
        let lease: Lease
        do throws(PoolError) {
            lease = try client.post(
                "/v1/leases", LeaseRequest(spec: reservation.spec, requester: nodeName, reservation: reservation.id))
        } catch {
            throw TesseraNode.PlacementError("cannot claim the reservation of \(holder): \(error.message)")
        }
        let gpus = lease.vgpus.filter { $0.node == nodeName }.prefix(asked.count).map(\.gpu)
        guard gpus.count == asked.count, gpus.allSatisfy({ g in inventory.contains { $0.index == g } }) else {
            try? client.delete("/v1/leases/\(lease.id)")
            throw TesseraNode.PlacementError("the reservation of \(holder) names GPUs this node does not have")
        }
        leases.withLock { $0[session] = lease.id }
        let granted = VirtualGPURequest(
            count: asked.count, memoryBytes: reservation.spec.memoryMiB << 20, computePercent: reservation.spec.computePercent,
            computeMode: ComputeMode(parsing: reservation.spec.computeMode) ?? .share)
        return Admission(gpus: gpus, request: granted)
    }
}
