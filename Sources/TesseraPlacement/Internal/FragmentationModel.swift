/// FGD's fragmentation measure of one node against a target workload M (the paper's F_n(M)).
///
/// For task m: f_n(m) is all of the node's idle GPU milli when m cannot run there at all (CPU-only task, model
/// not allowed, too little CPU, too few GPUs with enough free); otherwise the free milli of the GPUs m cannot
/// use. F_n(M) = Σ p_m · f_n(m).
struct FragmentationModel: Sendable {
    /// Tasks that need GPUs, with their probabilities.
    let tasks: [ResolvedRequest]
    let probabilities: [Double]
    /// Total probability of CPU-only tasks, for which every idle GPU is a fragment.
    let cpuOnlyProbability: Double

    init(workload: TargetWorkload, modelIDs: [String: Int32]) {
        self.init(
            entries: workload.entries.map { ($0.request, $0.probability) }, modelIDs: modelIDs)
    }

    /// A model from explicit (request, probability) pairs; probabilities should sum to 1.
    init(entries: [(PlacementRequest, Double)], modelIDs: [String: Int32]) {
        var tasks: [ResolvedRequest] = []
        var probabilities: [Double] = []
        var cpuOnly = 0.0
        for (request, probability) in entries {
            if request.gpuCount == 0 {
                cpuOnly += probability
            } else {
                tasks.append(ResolvedRequest(request, modelIDs: modelIDs))
                probabilities.append(probability)
            }
        }
        self.tasks = tasks
        self.probabilities = probabilities
        cpuOnlyProbability = cpuOnly
    }

    var isEmpty: Bool { tasks.isEmpty && cpuOnlyProbability == 0 }

    /// F for a node with `cpuFree` milli-cores free and these GPUs.
    func amount(cpuFree: Int, gpus: UnsafeBufferPointer<GPUState>) -> Double {
        var idle: Int32 = 0
        for gpu in gpus { idle += gpu.freeMilli }
        if idle == 0 { return 0 }
        let idleAmount = Double(idle)
        if isEmpty { return idleAmount }
        var total = cpuOnlyProbability * idleAmount
        tasks.withUnsafeBufferPointer { tasks in
            probabilities.withUnsafeBufferPointer { probabilities in
                for t in 0..<tasks.count {
                    let task = tasks[t]
                    if task.cpu > cpuFree {
                        total += probabilities[t] * idleAmount
                        continue
                    }
                    var usable = 0
                    var fragment: Int32 = 0
                    for gpu in gpus {
                        if task.fits(gpu) { usable += 1 } else { fragment += gpu.freeMilli }
                    }
                    total += probabilities[t] * (usable >= task.gpuCount ? Double(fragment) : idleAmount)
                }
            }
        }
        return total
    }
}
