import Synchronization
import TesseraNode

/// A node's placement when it belongs to a pool: each session's vGPUs are a lease from the controller, placed
/// on this node's GPUs. Keeps which lease serves which session, for heartbeats and release.
public final class ControllerPlacement: PlacementPolicy, Sendable {
    public let client: PoolClient
    public let nodeName: String
    /// Where a connecting process's reservation is found (Kubernetes: its pod's); nil places every session anew.
    public let claims: (any ReservationClaims)?
    let leases = Mutex<[UInt64: String]>([:])

    public init(client: PoolClient, nodeName: String, claims: (any ReservationClaims)? = nil) {
        self.client = client
        self.nodeName = nodeName
        self.claims = claims
    }

    public func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(TesseraNode.PlacementError) -> [Int] {
        throw TesseraNode.PlacementError("a pool node places only known sessions")
    }

    public func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(TesseraNode.PlacementError) -> [Int] {
        let spec = VirtualGPUSpec(vgpus: request.count, memoryMiB: (request.memoryBytes + (1 << 20) - 1) >> 20,
                                  computePercent: request.computePercent, node: nodeName)
        let lease: Lease
        do throws(PoolError) {
            lease = try client.post("/v1/leases", LeaseRequest(spec: spec, requester: nodeName))
        } catch {
            throw TesseraNode.PlacementError("the pool refused: \(error.message)")
        }
        let gpus = lease.vgpus.map(\.gpu)
        guard lease.vgpus.allSatisfy({ $0.node == nodeName }), gpus.allSatisfy({ g in inventory.contains { $0.index == g } }) else {
            try? client.delete("/v1/leases/\(lease.id)")
            throw TesseraNode.PlacementError("the controller placed vGPUs on GPUs this node does not have")
        }
        leases.withLock { $0[session] = lease.id }
        return gpus
    }

    /// The lease of each session that holds one.
    public var sessionLeases: [UInt64: String] { leases.withLock { $0 } }

    /// Forgets a session's lease and returns it.
    func forget(session: UInt64) -> String? { leases.withLock { $0.removeValue(forKey: session) } }
}
