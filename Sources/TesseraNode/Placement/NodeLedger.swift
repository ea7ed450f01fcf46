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
    /// Memory quotas may together exceed a GPU's memory (a paging node, whose admission counts physical
    /// memory): each vGPU's quota and context must still fit the GPU alone. Compute shares never overcommit.
    public let overcommitsMemory: Bool

    public init(gpus: [(index: Int, totalMemory: Int)], contextOverhead: [Int: Int] = [:], overcommitsMemory: Bool = false) {
        self.overcommitsMemory = overcommitsMemory
        capacity = gpus.map { GPUCapacity(index: $0.index, totalMemory: $0.totalMemory, contextOverhead: contextOverhead[$0.index] ?? 0) }
    }

    /// Places a session's vGPUs and records the grant; throws when they do not fit. Admitting a session twice
    /// is an error.
    public mutating func admit(session: UInt64, _ request: VirtualGPURequest, policy: some PlacementPolicy) throws(PlacementError) -> [Int] {
        guard grants[session] == nil else { throw PlacementError("session \(session) already holds vGPUs") }
        let chosen = try policy.place(request, session: session, on: capacity)
        guard chosen.count == request.count else { throw PlacementError("placement returned an invalid assignment \(chosen)") }
        try commit(session: session, request, gpus: chosen)
        return chosen
    }

    /// Records a grant decided elsewhere (placed outside the node's lock, or a lease of another node this node
    /// serves): `gpus` may be fewer than `request.count` (the rest are on other nodes) or none. Throws, changing
    /// nothing, when a GPU is unknown or the grant would overcommit one.
    public mutating func commit(session: UInt64, _ request: VirtualGPURequest, gpus chosen: [Int]) throws(PlacementError) {
        guard grants[session] == nil else { throw PlacementError("session \(session) already holds vGPUs") }
        guard chosen.allSatisfy({ g in capacity.contains { $0.index == g } }) else {
            throw PlacementError("placement returned an invalid assignment \(chosen)")
        }
        for g in chosen {
            let i = capacity.firstIndex { $0.index == g }!
            capacity[i].grantedMemory += request.memoryBytes + capacity[i].contextOverhead
            capacity[i].grantedComputePercent += request.computePercent
        }
        // A policy must never overcommit; check rather than trust it.
        let overcommitted = capacity.contains { c in
            let memory = overcommitsMemory
                ? chosen.contains(c.index) && request.memoryBytes + c.contextOverhead > c.totalMemory
                : c.grantedMemory > c.totalMemory
            return memory || c.grantedComputePercent > 100
        }
        if overcommitted {
            for g in chosen {
                let i = capacity.firstIndex { $0.index == g }!
                capacity[i].grantedMemory -= request.memoryBytes + capacity[i].contextOverhead
                capacity[i].grantedComputePercent -= request.computePercent
            }
            throw PlacementError("placement overcommitted a GPU")
        }
        grants[session] = Grant(request: request, gpus: chosen)
    }

    /// Returns a session's vGPUs to the pool. Releasing an unknown session does nothing.
    public mutating func release(session: UInt64) {
        guard let g = grants.removeValue(forKey: session) else { return }
        for gpu in g.gpus {
            let i = capacity.firstIndex { $0.index == gpu }!
            capacity[i].grantedMemory -= g.request.memoryBytes + capacity[i].contextOverhead
            capacity[i].grantedComputePercent -= g.request.computePercent
        }
    }
}
