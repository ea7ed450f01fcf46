import Synchronization
import TesseraNode
import TesseraPoolAPI
import TesseraWire

/// A node's placement when it belongs to a pool: each session's vGPUs are a lease from the controller, placed
/// on this node's GPUs first and, for programs whose runtime can attach to other nodes, on other nodes too.
/// Keeps which lease serves which session, for heartbeats and release; also the leases of other nodes'
/// programs attached here.
///
/// Every method may call the controller and blocks until it answers: ``Node`` calls them on session threads,
/// outside its state lock.
public final class ControllerPlacement: PlacementPolicy, Sendable {
    public let client: ControllerClient
    public let nodeName: String
    struct Leases {
        /// Sessions whose lease this node asked for (it releases them).
        var own: [UInt64: String] = [:]
        /// Sessions attached to another node's lease (that node releases it).
        var attached: [UInt64: String] = [:]
    }
    let leases = Mutex(Leases())
    /// Where a connecting process's reservation is found (Kubernetes: its pod's); nil places every session anew.
    public let claims: (any ReservationClaims)?

    public init(client: ControllerClient, nodeName: String, claims: (any ReservationClaims)? = nil) {
        self.client = client
        self.nodeName = nodeName
        self.claims = claims
    }

    public func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
        throw PlacementError("a pool node places only known sessions")
    }

    public func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
        try placeAnew(request, session: session, allowRemote: false, on: inventory).local
    }

    public func placeSession(_ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, allowRemote: Bool,
                             on inventory: [GPUCapacity]) throws(PlacementError) -> SessionPlacement {
        if claims != nil { return try claimReservation(request, session: session, peer: peer, allowRemote: allowRemote, on: inventory) }
        return try placeAnew(request, session: session, allowRemote: allowRemote, on: inventory)
    }

    /// A new lease for what the program asked.
    func placeAnew(_ request: VirtualGPURequest, session: UInt64, allowRemote: Bool,
                   on inventory: [GPUCapacity]) throws(PlacementError) -> SessionPlacement {
        let spec = VirtualGPUSpec(vgpus: request.count, memoryMiB: (request.memoryBytes + (1 << 20) - 1) >> 20,
                                  computePercent: request.computePercent, node: allowRemote ? nil : nodeName,
                                  preferredNode: nodeName, computeMode: request.computeMode.description)
        let lease: Lease
        let asked = LeaseRequest(spec: spec, requester: nodeName, program: request.program, owner: request.owner,
                                 identity: request.identity?.tokenIdentity, user: Self.userName(owner: request.owner))
        if request.waitMilliseconds > 0 {
            lease = try waitInQueue(asked, seconds: Double(request.waitMilliseconds) / 1000, waiter: request.waiter)
        } else {
            do throws(PoolError) {
                lease = try client.blocking.post("/v1/leases", asked)
            } catch {
                throw PlacementError("the pool refused: \(error.message)")
            }
        }
        do throws(PlacementError) {
            let placement = try Self.split(lease, home: nodeName, inventory: inventory)
            leases.withLock { $0.own[session] = lease.id }
            return placement
        } catch {
            try? client.blocking.delete("/v1/leases/\(lease.id)")
            throw error
        }
    }

    /// A lease as the home node's session sees it: its own GPUs (which must be this node's), then one group per
    /// other node in the order the lease names them, each with its endpoint and the lease's attach credential.
    static func split(_ lease: Lease, home: String, inventory: [GPUCapacity]) throws(PlacementError) -> SessionPlacement {
        let local = lease.vgpus.filter { $0.node == home }.map(\.gpu)
        guard local.allSatisfy({ g in inventory.contains { $0.index == g } }) else {
            throw PlacementError("the controller placed vGPUs on GPUs this node does not have")
        }
        var order: [String] = []
        var counts: [String: Int] = [:]
        var endpoints: [String: String] = [:]
        for v in lease.vgpus where v.node != home {
            if counts[v.node] == nil { order.append(v.node) }
            counts[v.node, default: 0] += 1
            guard let e = v.endpoint, !e.isEmpty else {
                throw PlacementError("the controller placed vGPUs on node \(v.node), which programs cannot reach (it has no endpoint)")
            }
            endpoints[v.node] = e
        }
        guard order.isEmpty || lease.attachSecret != nil else {
            throw PlacementError("the controller placed vGPUs on other nodes without an attach credential")
        }
        let remote = order.map { n in
            RemotePlacement(node: n, endpoint: endpoints[n]!, count: counts[n]!,
                            credential: AttachCredential(leaseID: lease.id, secret: lease.attachSecret ?? ""))
        }
        return SessionPlacement(local: local, remote: remote)
    }

    public func attach(_ credential: AttachCredential, session: UInt64, identity: SessionIdentity?) throws(PlacementError) -> AttachedVirtualGPUs {
        let lease: Lease
        do throws(PoolError) {
            lease = try client.blocking.post("/v1/leases/\(credential.leaseID)/attach",
                                             LeaseAttachRequest(node: nodeName, secret: credential.secret, user: identity?.user))
        } catch {
            // A wrong, unknown or replayed credential is a failed authentication; an unreachable controller is not.
            let credential: Set<PoolError.Code> = [.unauthorized, .notFound, .conflict]
            throw PlacementError("the pool refused the attachment: \(error.message)", rejectedCredential: credential.contains(error.code))
        }
        let mine = lease.vgpus.filter { $0.node == nodeName }
        guard let first = mine.first, mine.allSatisfy({ $0.memoryMiB == first.memoryMiB && $0.computePercent == first.computePercent }) else {
            throw PlacementError("lease \(lease.id) holds no vGPUs on this node")
        }
        leases.withLock { $0.attached[session] = lease.id }
        let mode = ComputeMode(parsing: lease.spec.computeMode) ?? .share
        return AttachedVirtualGPUs(gpus: mine.map(\.gpu), request: VirtualGPURequest(
            count: mine.count, memoryBytes: first.memoryMiB << 20, computePercent: first.computePercent, computeMode: mode))
    }

    /// Releases the lease of an ended session this node asked for; forgets an attached one.
    public func sessionEnded(_ session: UInt64) {
        guard let lease = forget(session: session) else { return }
        try? client.blocking.delete("/v1/leases/\(lease)")
    }

    /// The lease of each session that holds one: its own or the one it attached to.
    public var sessionLeases: [UInt64: String] { leases.withLock { $0.own.merging($0.attached) { a, _ in a } } }

    /// Leases this node asked for, by session.
    public var ownLeases: [UInt64: String] { leases.withLock { $0.own } }

    /// Forgets a session's lease and returns it when this node owns it (nil for attached or unknown ones).
    @discardableResult
    func forget(session: UInt64) -> String? {
        leases.withLock { l in
            l.attached[session] = nil
            return l.own.removeValue(forKey: session)
        }
    }
}
