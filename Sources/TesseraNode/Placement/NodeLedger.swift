/// What a node has promised: per-GPU grants and the vGPUs of every admitted session. A pure state machine
/// (no I/O, no locking); ``Node`` keeps it behind a mutex.
public struct NodeLedger: Sendable {
    /// One admitted session's grant.
    public struct Grant: Sendable, Hashable {
        public var request: VirtualGPURequest
        /// Physical GPU of each vGPU, in device order.
        public var gpus: [Int]
    }

    public private(set) var capacity: [GPUCapacity]
    public private(set) var grants: [UInt64: Grant] = [:]

    public init(gpus: [(index: Int, totalMemory: Int)]) {
        capacity = gpus.map { GPUCapacity(index: $0.index, totalMemory: $0.totalMemory) }
    }

    /// Places a session's vGPUs and records the grant; throws when they do not fit. Admitting a session twice
    /// is an error.
    public mutating func admit(session: UInt64, _ request: VirtualGPURequest, policy: some PlacementPolicy) throws(PlacementError) -> [Int] {
        try admit(session: session, request, peer: nil, policy: policy).gpus
    }

    /// The same for a session whose peer is known: the policy may grant other sizes than asked (what was
    /// reserved for the peer); the grant recorded is the policy's.
    public mutating func admit(
        session: UInt64, _ asked: VirtualGPURequest, peer: PeerIdentity?, policy: some PlacementPolicy
    ) throws(PlacementError) -> Admission {
        guard grants[session] == nil else { throw PlacementError("session \(session) already holds vGPUs") }
        let admission = if let peer {
            try policy.admit(asked, session: session, peer: peer, on: capacity)
        } else {
            Admission(gpus: try policy.place(asked, session: session, on: capacity), request: asked)
        }
        let request = admission.request
        let chosen = admission.gpus
        guard chosen.count == request.count, chosen.allSatisfy({ g in capacity.contains { $0.index == g } }) else {
            throw PlacementError("placement returned an invalid assignment \(chosen)")
        }
        for g in chosen {
            let i = capacity.firstIndex { $0.index == g }!
            capacity[i].grantedMemory += request.memoryBytes
            capacity[i].grantedComputePercent += request.computePercent
        }
        // A policy must never overcommit; check rather than trust it.
        if capacity.contains(where: { $0.grantedMemory > $0.totalMemory || $0.grantedComputePercent > 100 }) {
            for g in chosen {
                let i = capacity.firstIndex { $0.index == g }!
                capacity[i].grantedMemory -= request.memoryBytes
                capacity[i].grantedComputePercent -= request.computePercent
            }
            throw PlacementError("placement overcommitted a GPU")
        }
        grants[session] = Grant(request: request, gpus: chosen)
        return admission
    }

    /// Returns a session's vGPUs to the pool. Releasing an unknown session does nothing.
    public mutating func release(session: UInt64) {
        guard let g = grants.removeValue(forKey: session) else { return }
        for gpu in g.gpus {
            let i = capacity.firstIndex { $0.index == gpu }!
            capacity[i].grantedMemory -= g.request.memoryBytes
            capacity[i].grantedComputePercent -= g.request.computePercent
        }
    }
}
