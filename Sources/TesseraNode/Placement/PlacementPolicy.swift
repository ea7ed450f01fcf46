/// Decides which physical GPUs a session's vGPUs go on. Standalone nodes use ``SpreadPlacement``; a
/// controller will supply its own decisions through this interface.
public protocol PlacementPolicy: Sendable {
    /// The GPU index for each requested vGPU, in order, or an error saying why the request does not fit.
    /// - Parameter inventory: every GPU of the node with what is already granted on it.
    func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int]
    /// The same for a known session (a controller-backed policy keeps the session's lease); by default
    /// ``place(_:on:)``.
    func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int]
    /// The grant of a session whose peer the kernel identified: by default what it asked for, placed by
    /// ``place(_:session:on:)``. A policy may instead grant what was reserved for the peer (a Kubernetes pod's
    /// reservation), whatever the program asked.
    func admit(_ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, on inventory: [GPUCapacity]) throws(PlacementError) -> Admission
}

/// What a session is granted: the physical GPU of each vGPU and the vGPUs' size and compute mode.
public struct Admission: Sendable, Hashable {
    public var gpus: [Int]
    public var request: VirtualGPURequest
    public init(gpus: [Int], request: VirtualGPURequest) {
        self.gpus = gpus
        self.request = request
    }
}

extension PlacementPolicy {
    public func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
        try place(request, on: inventory)
    }

    public func admit(_ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, on inventory: [GPUCapacity]) throws(PlacementError) -> Admission {
        Admission(gpus: try place(request, session: session, on: inventory), request: request)
    }
}

/// Places each vGPU on the GPU with the most free memory that can hold it, preferring GPUs the request does
/// not use yet, so a multi-GPU program gets distinct devices whenever the node has them.
public struct SpreadPlacement: PlacementPolicy {
    public init() {}

    public func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
        guard request.count >= 1 else { throw PlacementError("a session needs at least one vGPU") }
        guard request.memoryBytes >= 1 << 20, request.memoryBytes % (1 << 20) == 0 else {
            throw PlacementError("vGPU memory must be a positive multiple of 1 MiB, got \(request.memoryBytes) bytes")
        }
        guard (1...100).contains(request.computePercent) else {
            throw PlacementError("vGPU compute share must be 1–100 %, got \(request.computePercent) %")
        }
        guard !inventory.isEmpty else { throw PlacementError("this node has no GPUs") }
        var gpus = inventory
        var chosen: [Int] = []
        for n in 0..<request.count {
            let fitting = gpus.indices.filter {
                gpus[$0].freeMemory >= request.memoryBytes && gpus[$0].freeComputePercent >= request.computePercent
            }
            let best = fitting.max { a, b in
                let ua = chosen.contains(gpus[a].index), ub = chosen.contains(gpus[b].index)
                if ua != ub { return ua }  // unused GPUs rank higher
                if gpus[a].freeMemory != gpus[b].freeMemory { return gpus[a].freeMemory < gpus[b].freeMemory }
                return gpus[a].index > gpus[b].index
            }
            guard let best else {
                let free = gpus.map { "GPU \($0.index): \($0.freeMemory >> 20) MiB, \($0.freeComputePercent) %" }.joined(separator: "; ")
                throw PlacementError(
                    "cannot place vGPU \(n + 1) of \(request.count) (\(request.memoryBytes >> 20) MiB, \(request.computePercent) %): "
                        + "free on this node: \(free)")
            }
            gpus[best].grantedMemory += request.memoryBytes
            gpus[best].grantedComputePercent += request.computePercent
            chosen.append(gpus[best].index)
        }
        return chosen
    }
}
