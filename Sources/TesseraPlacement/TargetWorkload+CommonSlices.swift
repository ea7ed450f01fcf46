extension TargetWorkload {
    /// The vGPU shapes a teaching pool mostly hands out — common slices and whole GPUs — for fragmentation-aware
    /// policies where no trace of the pool's own requests is at hand. The controller and the scheduler extender
    /// both measure against it, so the extender ranks nodes the way the controller would place.
    public static let commonSlices: TargetWorkload = {
        var weights: [(PlacementRequest, Double)] = []
        for (percent, mib, w) in [(10, 2048, 0.3), (25, 4096, 0.25), (50, 8192, 0.2), (100, 16384, 0.1)] {
            weights.append((try! PlacementRequest.sharedGPU(computePercent: percent, memoryMiB: mib), w))
        }
        weights.append((try! PlacementRequest.wholeGPUs(1), 0.15))
        return try! TargetWorkload(weights: weights)
    }()
}
