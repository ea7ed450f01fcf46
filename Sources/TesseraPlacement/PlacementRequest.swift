/// What a workload asks for: CPU and host memory on one node, and optionally GPUs on that node.
///
/// A GPU request is either *whole* GPUs (each entirely idle, handed out exclusively) or a *share* of each GPU:
/// `computeMilliPerGPU` of its compute time (1…1000 milli; 10 milli = 1 %) plus some of its memory.
public struct PlacementRequest: Hashable, Sendable {
    /// How much GPU memory each GPU of a shared request needs.
    public enum GPUMemory: Hashable, Sendable {
        /// A fixed amount in MiB, whatever the model.
        case mebibytes(Int)
        /// The same fraction of the GPU's memory as of its compute (rounded down to whole MiB), as in the
        /// Alibaba trace, where one `gpu_milli` scalar stands for both.
        case sameFractionAsCompute
    }

    /// CPU in milli-cores.
    public let cpuMilli: Int
    /// Host memory in MiB.
    public let hostMemoryMiB: Int
    /// How many GPUs, 0 for a CPU-only request.
    public let gpuCount: Int
    /// Compute per GPU in milli (1000 for whole GPUs, 0 when `gpuCount` is 0).
    public let computeMilliPerGPU: Int
    /// GPU memory per GPU of a shared request (ignored for whole GPUs, which get all of it).
    public let gpuMemory: GPUMemory
    /// Whether each GPU must be entirely idle and is handed out whole.
    public let wholeGPU: Bool
    /// GPU models the request accepts; `nil` accepts any.
    public let allowedModels: Set<String>?

    /// A request; throws ``PlacementEngineError/Code/invalidRequest`` when the numbers make no sense.
    ///
    /// A share of `computeMilliPerGPU == 1000` with memory `sameFractionAsCompute` is a whole GPU.
    public init(
        cpuMilli: Int = 0, hostMemoryMiB: Int = 0,
        gpuCount: Int = 0, computeMilliPerGPU: Int = 1000,
        gpuMemory: GPUMemory = .sameFractionAsCompute, wholeGPU: Bool = false,
        allowedModels: Set<String>? = nil
    ) throws(PlacementEngineError) {
        guard cpuMilli >= 0 else { throw PlacementEngineError(.invalidRequest, "negative CPU request \(cpuMilli)") }
        guard hostMemoryMiB >= 0 else { throw PlacementEngineError(.invalidRequest, "negative memory request \(hostMemoryMiB)") }
        guard (0...64).contains(gpuCount) else { throw PlacementEngineError(.invalidRequest, "GPU count \(gpuCount) outside 0…64") }
        self.cpuMilli = cpuMilli
        self.hostMemoryMiB = hostMemoryMiB
        self.gpuCount = gpuCount
        self.allowedModels = allowedModels.flatMap { $0.isEmpty ? nil : $0 }
        if gpuCount == 0 {
            self.computeMilliPerGPU = 0
            self.gpuMemory = .mebibytes(0)
            self.wholeGPU = false
            return
        }
        if case .mebibytes(let mib) = gpuMemory, mib < 0 {
            throw PlacementEngineError(.invalidRequest, "negative GPU memory request \(mib)")
        }
        if wholeGPU || (computeMilliPerGPU == 1000 && gpuMemory == .sameFractionAsCompute) {
            self.computeMilliPerGPU = 1000
            self.gpuMemory = .sameFractionAsCompute
            self.wholeGPU = true
        } else {
            // 0 milli with a fixed memory size is a best-effort share: it takes memory only.
            let lowest = gpuMemory == .sameFractionAsCompute ? 1 : 0
            guard (lowest...1000).contains(computeMilliPerGPU) else {
                throw PlacementEngineError(.invalidRequest, "compute share \(computeMilliPerGPU) milli outside \(lowest)…1000")
            }
            self.computeMilliPerGPU = computeMilliPerGPU
            self.gpuMemory = gpuMemory
            self.wholeGPU = false
        }
    }

    /// A CPU-only request.
    public static func cpuOnly(cpuMilli: Int, hostMemoryMiB: Int) throws(PlacementEngineError) -> PlacementRequest {
        try PlacementRequest(cpuMilli: cpuMilli, hostMemoryMiB: hostMemoryMiB)
    }

    /// `count` whole GPUs.
    public static func wholeGPUs(
        _ count: Int, cpuMilli: Int = 0, hostMemoryMiB: Int = 0, allowedModels: Set<String>? = nil
    ) throws(PlacementEngineError) -> PlacementRequest {
        guard count >= 1 else { throw PlacementEngineError(.invalidRequest, "a whole-GPU request needs at least one GPU") }
        return try PlacementRequest(
            cpuMilli: cpuMilli, hostMemoryMiB: hostMemoryMiB, gpuCount: count, wholeGPU: true,
            allowedModels: allowedModels)
    }

    /// A share of one GPU: `computePercent` % of its compute (1…100) and `memoryMiB` of its memory.
    public static func sharedGPU(
        computePercent: Int, memoryMiB: Int, cpuMilli: Int = 0, hostMemoryMiB: Int = 0,
        allowedModels: Set<String>? = nil
    ) throws(PlacementEngineError) -> PlacementRequest {
        guard (0...100).contains(computePercent) else {
            throw PlacementEngineError(.invalidRequest, "compute share \(computePercent) % outside 0…100 (0: best effort)")
        }
        return try PlacementRequest(
            cpuMilli: cpuMilli, hostMemoryMiB: hostMemoryMiB, gpuCount: 1,
            computeMilliPerGPU: computePercent * 10, gpuMemory: .mebibytes(memoryMiB), allowedModels: allowedModels)
    }

    /// GPU compute asked for in total, in milli (what the replay counts as GPU request).
    public var totalGPUMilli: Int { gpuCount * computeMilliPerGPU }

    /// Whether this is a share of a single GPU (the trace's "sharing" pods).
    public var isSharedGPU: Bool { gpuCount == 1 && !wholeGPU }

    /// The same request without host memory: what the fragmentation measure and score caches key on.
    var shape: PlacementRequest { PlacementRequest(unchecked: self, hostMemoryMiB: 0) }

    private init(unchecked other: PlacementRequest, hostMemoryMiB: Int) {
        cpuMilli = other.cpuMilli
        self.hostMemoryMiB = hostMemoryMiB
        gpuCount = other.gpuCount
        computeMilliPerGPU = other.computeMilliPerGPU
        gpuMemory = other.gpuMemory
        wholeGPU = other.wholeGPU
        allowedModels = other.allowedModels
    }

    /// GPU memory this request needs on a GPU of `totalMiB`.
    func memoryNeeded(onGPUOf totalMiB: Int) -> Int {
        if wholeGPU { return totalMiB }
        switch gpuMemory {
        case .mebibytes(let mib): return mib
        case .sameFractionAsCompute: return computeMilliPerGPU * totalMiB / 1000
        }
    }
}
