/// The published baselines, with their integer 0…100 scores (Kubernetes scheduler scores are integers, and
/// the truncation decides which nodes tie).
extension NodeScorer {
    /// Minimise 0.5·(CPU left)/128 cores + 0.5·(GPU left)/8 GPUs after placement.
    func bestFit(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        let cpuLeft = Double(node.cpuFree - request.cpu) / Self.maxSpecCPU
        let gpuLeft = Double(node.freeGPUMilli - request.totalMilli) / Self.maxSpecGPU
        let score = (1 - (0.5 * cpuLeft + 0.5 * gpuLeft)) * 100
        return Evaluation(score: score.rounded(.towardZero), gpu: sharedGPU(request, node))
    }

    /// Minimise the dot product of the node's free (CPU, GPU) vector with the request's, both normalised by
    /// 128 cores and 8 GPUs (Tetris).
    func dotProduct(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        let dot = (Double(node.cpuFree) / Self.maxSpecCPU) * (Double(request.cpu) / Self.maxSpecCPU)
            + (Double(node.freeGPUMilli) / Self.maxSpecGPU) * (Double(request.totalMilli) / Self.maxSpecGPU)
        let score = (1 - dot / 2) * 100
        return Evaluation(score: score.rounded(.towardZero), gpu: sharedGPU(request, node))
    }

    /// Prefer an already-shared GPU with least free (50…100), then idle GPUs on a used node (33…50), then an
    /// entirely idle node (below 33). CPU-only requests score 0 everywhere.
    func packing(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        guard request.gpuCount > 0 else { return Evaluation(score: 0, gpu: -1) }
        let gpu = sharedGPU(request, node)
        let idle = node.gpus.reduce(0) { $0 + ($1.freeMilli == 1000 ? 1 : 0) }
        if idle == node.gpus.count {
            return Evaluation(score: Double(max(100 / 3 - idle, idle)), gpu: gpu)
        }
        // The GPUs the request would take, tightest first.
        let order = node.gpus.indices.sorted { a, b in
            node.gpus[a].freeMilli != node.gpus[b].freeMilli ? node.gpus[a].freeMilli < node.gpus[b].freeMilli : a < b
        }
        var needed = request.gpuCount
        var idleUsed = 0
        var freePercentOnUsed = 0
        for i in order where needed > 0 && request.fits(node.gpus[i]) {
            needed -= 1
            if node.gpus[i].freeMilli == 1000 { idleUsed += 1 }
            freePercentOnUsed += Int(node.gpus[i].freeMilli) * 100 / 1000
        }
        if idleUsed > 0 {
            return Evaluation(score: Double(max(100 / 2 - idleUsed, 100 / 3)), gpu: gpu)
        }
        return Evaluation(score: Double(max(100 - freePercentOnUsed / 10, 100 / 2)), gpu: gpu)
    }

    /// Prefer nodes holding only requests of the same class (75…100), then nodes holding it among others
    /// (50…75), then empty nodes (25…50), then nodes of other classes (0…25); within a band, fuller nodes first.
    /// CPU-only requests score 0 everywhere.
    func clustering(_ request: ResolvedRequest, on node: NodeView) -> Evaluation {
        guard request.gpuCount > 0 else { return Evaluation(score: 0, gpu: -1) }
        let fullness = 100 / 4 * (Int(Self.maxSpecGPU) - node.freeGPUMilli) / Int(Self.maxSpecGPU)
        let band: Int
        if node.affinity[request.affinityTag, default: 0] > 0 {
            band = node.affinity.count == 1 ? 3 : 2
        } else {
            band = node.affinity.isEmpty ? 1 : 0
        }
        return Evaluation(score: Double(fullness + band * 100 / 4), gpu: sharedGPU(request, node))
    }

    /// The baselines' GPU for a share: the tightest fit.
    private func sharedGPU(_ request: ResolvedRequest, _ node: NodeView) -> Int32 {
        request.isShared ? Self.tightestGPU(for: request, on: node.gpus) : -1
    }
}
