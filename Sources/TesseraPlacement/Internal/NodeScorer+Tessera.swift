/// Tessera's default policy: descend Tessera's node cost (``TesseraCostModel``) like FGD descends its
/// fragmentation, in steps of 12 milli so that near-equal moves tie, and break ties towards the fullest node
/// (best fit on GPUs and CPU left), then the smallest name. For a share, the GPU on the node that lowers the
/// cost most (ties: larger raw decrease, then lower index).
extension NodeScorer {
    /// Cost differences smaller than this many milli-GPUs count as equal.
    static let tesseraStep = 12.0

    func tessera(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        guard let model = tesseraCost else { return .doesNotFit }
        let before = node.cost
        let cpuAfter = node.cpuFree - request.cpu
        let cpuLeft = Double(cpuAfter) / Self.maxSpecCPU
        return withScratchCopy(of: node.gpus) { scratch in
            func score(_ decrease: Double) -> Double {
                var idle = 0.0
                for gpu in scratch { idle += Double(gpu.freeMilli) }
                let fullness = 1 - (0.5 * min(1, idle / Self.maxSpecGPU) + 0.5 * min(1, cpuLeft))
                return (decrease / Self.tesseraStep).rounded(.down) + 0.999 * fullness
            }
            if request.isShared {
                var best = Evaluation(score: -.infinity, gpu: -1)
                var bestDecrease = -Double.infinity
                for i in scratch.indices where request.fits(scratch[i]) && !Self.hasTwin(i, in: scratch) {
                    let original = scratch[i]
                    scratch[i].freeMilli -= request.milli
                    scratch[i].freeMemory -= request.memoryTaken(from: original)
                    let decrease = before - model.cost(cpuFree: cpuAfter, gpus: UnsafeBufferPointer(scratch))
                    let s = score(decrease)
                    scratch[i] = original
                    if s > best.score || (s == best.score && decrease > bestDecrease) {
                        best = Evaluation(score: s, gpu: Int32(i))
                        bestDecrease = decrease
                    }
                }
                return best
            }
            Self.take(request, from: scratch)
            let decrease = before - model.cost(cpuFree: cpuAfter, gpus: UnsafeBufferPointer(scratch))
            return Evaluation(score: score(decrease), gpu: -1)
        }
    }

    /// Maps a Tessera score to 0…1 like FGD's sigmoid of the cost decrease.
    func tesseraNormalized(_ score: Double) -> Double { sigmoid(score * Self.tesseraStep / 1000) }
}
