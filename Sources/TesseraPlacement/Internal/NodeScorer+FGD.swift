/// Fragmentation Gradient Descent as published: score `⌊100·sigmoid((F_before − F_after)/1000)⌋`; for a GPU
/// share, the GPU on the node with the best such score (first by index on ties).
extension NodeScorer {
    func fgd(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        let before = node.fragmentation
        let cpuAfter = node.cpuFree - request.cpu
        return withScratchCopy(of: node.gpus) { scratch in
            if request.isShared {
                var best = Evaluation(score: -.infinity, gpu: -1)
                for i in scratch.indices where request.fits(scratch[i]) && !Self.hasTwin(i, in: scratch) {
                    let original = scratch[i]
                    scratch[i].freeMilli -= request.milli
                    scratch[i].freeMemory -= request.memoryTaken(from: original)
                    let after = fragmentation.amount(cpuFree: cpuAfter, gpus: UnsafeBufferPointer(scratch))
                    scratch[i] = original
                    let score = (sigmoid((before - after) / 1000) * 100).rounded(.towardZero)
                    if score > best.score { best = Evaluation(score: score, gpu: Int32(i)) }
                }
                return best
            }
            Self.take(request, from: scratch)
            let after = fragmentation.amount(cpuFree: cpuAfter, gpus: UnsafeBufferPointer(scratch))
            return Evaluation(score: (sigmoid((before - after) / 1000) * 100).rounded(.towardZero), gpu: -1)
        }
    }

    /// Whether a GPU before `index` is in the same state: the request fits it too and it would score the same,
    /// and the lower index wins ties, so `index` need not be evaluated.
    static func hasTwin(_ index: Int, in gpus: UnsafeMutableBufferPointer<GPUState>) -> Bool {
        for j in 0..<index where gpus[j] == gpus[index] { return true }
        return false
    }

    /// Subtracts a non-share request from its default GPUs in `gpus`.
    static func take(_ request: ResolvedRequest, from gpus: UnsafeMutableBufferPointer<GPUState>) {
        guard request.gpuCount > 0 else { return }
        for i in defaultGPUs(for: request, on: UnsafeBufferPointer(gpus)) {
            let taken = request.memoryTaken(from: gpus[i])
            gpus[i].freeMilli -= request.milli
            gpus[i].freeMemory -= taken
        }
    }

    /// Runs `body` on a mutable stack copy of a node's GPUs.
    func withScratchCopy<R>(
        of gpus: UnsafeBufferPointer<GPUState>, _ body: (UnsafeMutableBufferPointer<GPUState>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: GPUState.self, capacity: max(gpus.count, 1)) { buffer in
            let scratch = UnsafeMutableBufferPointer(rebasing: buffer[0..<gpus.count])
            _ = scratch.initialize(from: gpus)
            return body(scratch)
        }
    }
}
