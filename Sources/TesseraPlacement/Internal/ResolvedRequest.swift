/// A ``PlacementRequest`` translated to the engine's storage: model names to a bit mask, memory to a rule.
struct ResolvedRequest: Sendable {
    let cpu: Int
    let hostMemory: Int
    let gpuCount: Int
    let milli: Int32
    let whole: Bool
    /// GPU memory per GPU in MiB, or -1 for "the same fraction as compute".
    let fixedMemory: Int32
    /// Bit `m` set when model `m` is allowed.
    let modelMask: UInt64
    /// Clustering class: 0 CPU-only, ``ResolvedRequest/sharedTag`` for a GPU share, k for k whole GPUs.
    let affinityTag: Int

    static let sharedTag = 1_000

    init(_ request: PlacementRequest, modelIDs: [String: Int32]) {
        cpu = request.cpuMilli
        hostMemory = request.hostMemoryMiB
        gpuCount = request.gpuCount
        milli = Int32(request.computeMilliPerGPU)
        whole = request.wholeGPU
        switch request.gpuMemory {
        case .mebibytes(let mib): fixedMemory = Int32(clamping: mib)
        case .sameFractionAsCompute: fixedMemory = -1
        }
        if let allowed = request.allowedModels {
            var mask: UInt64 = 0
            for name in allowed {
                if let id = modelIDs[name] { mask |= 1 << UInt64(id) }
            }
            modelMask = mask
        } else {
            modelMask = ~0
        }
        if request.gpuCount == 0 {
            affinityTag = 0
        } else if request.wholeGPU {
            affinityTag = request.gpuCount
        } else {
            affinityTag = Self.sharedTag
        }
    }

    var totalMilli: Int { gpuCount * Int(milli) }
    var isShared: Bool { gpuCount == 1 && !whole }

    @inline(__always)
    func fits(_ gpu: GPUState) -> Bool {
        guard (modelMask >> UInt64(gpu.model)) & 1 == 1 else { return false }
        if whole { return gpu.freeMilli == 1000 && gpu.freeMemory == gpu.totalMemory }
        guard gpu.freeMilli >= milli else { return false }
        let need = fixedMemory >= 0 ? fixedMemory : Int32(Int(milli) * Int(gpu.totalMemory) / 1000)
        return gpu.freeMemory >= need
    }

    /// GPU memory taken from `gpu` when placed there.
    @inline(__always)
    func memoryTaken(from gpu: GPUState) -> Int32 {
        if whole { return gpu.totalMemory }
        return fixedMemory >= 0 ? fixedMemory : Int32(Int(milli) * Int(gpu.totalMemory) / 1000)
    }
}
