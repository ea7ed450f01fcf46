import TesseraWire

/// Decides which physical GPUs a session's vGPUs go on. Standalone nodes use ``SpreadPlacement``; a pool node
/// asks its controller through this interface (and may then place vGPUs on other nodes, or bind sessions to
/// vGPUs another node obtained). Methods may do I/O: ``Node`` never calls them while holding its state lock.
public protocol PlacementPolicy: Sendable {
    /// The GPU index for each requested vGPU, in order, or an error saying why the request does not fit.
    /// - Parameter inventory: every GPU of the node with what is already granted on it.
    func place(_ request: VirtualGPURequest, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int]
    /// The same for a known session (a controller-backed policy keeps the session's lease); by default
    /// ``place(_:on:)``.
    func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int]
    /// Places a session whose program may also use vGPUs of other nodes (`allowRemote`, when its runtime can
    /// attach to them); by default only this node's GPUs, as asked. `peer` is who the kernel says connected: a
    /// policy may grant what was reserved for it (a Kubernetes pod's reservation) instead of what it asked
    /// (``SessionPlacement/granted``).
    func placeSession(_ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, allowRemote: Bool,
                      on inventory: [GPUCapacity]) throws(PlacementError) -> SessionPlacement
    /// Checks a program's claim to vGPUs of this node that another node obtained for it, and returns them.
    /// `identity` is who the attaching program proved to be with its token, if it presented one.
    func attach(_ credential: AttachCredential, session: UInt64, identity: SessionIdentity?) throws(PlacementError) -> AttachedVirtualGPUs
    /// A session placed or attached by this policy has ended (its vGPUs on this node are already free).
    func sessionEnded(_ session: UInt64)
}

extension PlacementPolicy {
    public func place(_ request: VirtualGPURequest, session: UInt64, on inventory: [GPUCapacity]) throws(PlacementError) -> [Int] {
        try place(request, on: inventory)
    }

    /// Only this node's GPUs.
    public func placeSession(_ request: VirtualGPURequest, session: UInt64, peer: PeerIdentity, allowRemote: Bool,
                             on inventory: [GPUCapacity]) throws(PlacementError) -> SessionPlacement {
        SessionPlacement(local: try place(request, session: session, on: inventory))
    }

    /// A node outside a pool accepts no attachments.
    public func attach(_ credential: AttachCredential, session: UInt64, identity: SessionIdentity?) throws(PlacementError) -> AttachedVirtualGPUs {
        throw PlacementError("this node is not in a pool; it accepts no vGPU attachments")
    }

    public func sessionEnded(_ session: UInt64) {}
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
        // 0 is best effort: no share is reserved, so compute never refuses it.
        guard (0...100).contains(request.computePercent) else {
            throw PlacementError("vGPU compute share must be 0–100 % (0: best effort), got \(request.computePercent) %")
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
            gpus[best].grantedMemory += request.memoryBytes + gpus[best].contextOverhead
            gpus[best].grantedComputePercent += request.computePercent
            chosen.append(gpus[best].index)
        }
        return chosen
    }
}
