#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Tessera's node cost: how much of a node's idle GPU compute the expected workload will probably never use.
///
/// T_n = F_n(M′) + μ·W_n + λ·S_n, where
/// - M′ is the target workload with each GPU task's weight scaled by (GPUs it asks for)^-3.5 (renormalised):
///   the smaller a task, the more it counts (a 0.16-GPU share about 600 times a single GPU, an 8-GPU task
///   almost nothing). Leftovers that only small shares can still fill are what strands capacity, so F(M′) and
///   the look-ahead judge leftovers by whether small shares fit them;
/// - F_n(M′) is FGD's fragmentation measure against M′;
/// - W_n = Σ over the node's GPUs of w(free), the expected compute of a GPU with that much free that is never
///   handed out if every later request that fits lands on it (a one-GPU look-ahead on M′, computed once);
/// - S_n is the idle compute the node's CPU cannot feed: max(0, idle − F − μW − cpuFree / c̄), with c̄ the CPU
///   M's GPU tasks ask per milli-GPU on average (M, not M′: M′'s small shares ask for far more CPU per
///   milli-GPU than the workload as a whole, and a c̄ taken from them makes S keep nodes free for CPU that
///   never comes, which breaks up the whole nodes 8-GPU tasks need).
/// See docs/placement.md for why each term is there and how the weights were chosen.
struct TesseraCostModel: Sendable {
    static let sizeExponent = -3.5
    static let wasteWeight = 0.4
    static let strandingWeight = 0.5

    let fragmentation: FragmentationModel
    /// expectedWaste[r]: expected never-used milli of a GPU with r milli free.
    let expectedWaste: [Double]
    /// Average CPU milli per GPU milli of M's GPU tasks.
    let cpuPerGPUMilli: Double

    init(workload: TargetWorkload, modelIDs: [String: Int32]) {
        let entries = workload.entries
        let gpuMass = entries.filter { $0.request.gpuCount > 0 }.reduce(0) { $0 + $1.probability }
        var scaled = entries.map { entry -> (PlacementRequest, Double) in
            guard entry.request.gpuCount > 0 else { return (entry.request, entry.probability) }
            let gpus = Double(entry.request.totalGPUMilli) / 1000
            return (entry.request, entry.probability * pow(gpus, Self.sizeExponent))
        }
        let scaledMass = scaled.filter { $0.0.gpuCount > 0 }.reduce(0) { $0 + $1.1 }
        if scaledMass > 0 {
            scaled = scaled.map { $0.0.gpuCount > 0 ? ($0.0, $0.1 / scaledMass * gpuMass) : $0 }
        }
        fragmentation = FragmentationModel(entries: scaled, modelIDs: modelIDs)

        var cpu = 0.0
        var gpu = 0.0
        for entry in entries where entry.request.gpuCount > 0 {
            cpu += entry.probability * Double(entry.request.cpuMilli)
            gpu += entry.probability * Double(entry.request.totalGPUMilli)
        }
        cpuPerGPUMilli = gpu > 0 && cpu > 0 ? cpu / gpu : 1

        // w(r) = r when nothing fits; otherwise the next fitting task (by weight) lands and w continues from
        // what is left. Whole GPUs leave nothing.
        var waste = [Double](repeating: 0, count: 1001)
        for free in 0...1000 {
            var fitting = 0.0
            var sum = 0.0
            for (task, p) in zip(fragmentation.tasks, fragmentation.probabilities) {
                let size = task.whole ? 1000 : Int(task.milli)
                guard size <= free else { continue }
                fitting += p
                sum += p * (size == 1000 ? 0 : waste[free - size])
            }
            waste[free] = fitting > 0 ? sum / fitting : Double(free)
        }
        expectedWaste = waste
    }

    /// T for a node with `cpuFree` milli-cores free and these GPUs.
    func cost(cpuFree: Int, gpus: UnsafeBufferPointer<GPUState>) -> Double {
        var idle = 0.0
        var waste = 0.0
        for gpu in gpus {
            idle += Double(gpu.freeMilli)
            waste += expectedWaste[Int(gpu.freeMilli)]
        }
        let expected = fragmentation.amount(cpuFree: cpuFree, gpus: gpus) + Self.wasteWeight * waste
        let feedable = Double(cpuFree) / cpuPerGPUMilli
        return expected + Self.strandingWeight * max(0, idle - expected - feedable)
    }
}
