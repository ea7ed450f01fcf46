/// Places requests on a cluster: the one code path behind the controller, the scheduler extender and the
/// trace replay.
///
/// The engine owns a copy of the cluster's state. A controller asks ``place(_:)`` for a node and GPUs, then
/// records the decision with ``allocate(_:for:)`` (or does both with ``placeAndAllocate(_:)``) and hands
/// resources back with ``release(_:for:)``; ``update(_:)`` overwrites a node's free amounts with what the node
/// reports. An extender asks ``scores(for:nodeNames:)`` for a filter verdict and a 0…1 score per candidate.
///
/// Queries are fast because evaluations are cached per request shape and node version, and each node's
/// fragmentation is kept up to date incrementally. The engine is a value type and not thread-safe by itself;
/// share it behind a `Mutex`.
public struct PlacementEngine: Sendable {
    /// The policy choosing among fitting nodes.
    public let policy: ScoringPolicy
    /// The workload fragmentation is measured against.
    public let workload: TargetWorkload

    var storage: ClusterStorage
    let scorer: NodeScorer
    private var cache: ScoreCache
    private var nodeFragmentation: [Double]
    private var nodeCost: [Double]
    private var totalFragmentation: Double
    private var idleGPUMilli: Int
    private var idleByNode: [Int]
    private var random: SeededRandom

    /// An engine for `nodes` (names must be unique). `seed` drives the random policy only.
    public init(
        nodes: [PlacementNode], policy: ScoringPolicy = .tessera, workload: TargetWorkload, seed: UInt64 = 0
    ) throws(PlacementEngineError) {
        self.policy = policy
        self.workload = workload
        storage = try ClusterStorage(nodes: nodes)
        scorer = NodeScorer(policy: policy, workload: workload, modelIDs: storage.modelIDs)
        cache = ScoreCache(nodeCount: storage.count)
        nodeFragmentation = []
        nodeCost = []
        totalFragmentation = 0
        idleGPUMilli = 0
        idleByNode = []
        random = SeededRandom(seed: seed)
        for n in 0..<storage.count {
            let f = computeFragmentation(of: n)
            nodeFragmentation.append(f)
            nodeCost.append(computeCost(of: n))
            totalFragmentation += f
            idleByNode.append(storage.freeGPUMilli(of: n))
            idleGPUMilli += idleByNode[n]
        }
    }

    /// Places `request` on a snapshot of a cluster without keeping an engine: convenient, but every call pays
    /// for building the engine; keep one ``PlacementEngine`` for repeated decisions.
    public static func place(
        _ request: PlacementRequest, on nodes: [PlacementNode], policy: ScoringPolicy = .tessera,
        workload: TargetWorkload
    ) throws(PlacementEngineError) -> Placement? {
        var engine = try PlacementEngine(nodes: nodes, policy: policy, workload: workload)
        return engine.place(request)
    }

    // MARK: State

    /// The nodes with their current free amounts, in the order given at creation.
    public var nodes: [PlacementNode] { (0..<storage.count).map { storage.node(at: $0) } }

    /// The node called `name`, if the engine knows it.
    public func node(named name: String) -> PlacementNode? { storage.indexByName[name].map { storage.node(at: $0) } }

    /// Idle and fragmented GPU compute across the cluster.
    public var fragmentation: FragmentationSummary {
        FragmentationSummary(idleGPUMilli: idleGPUMilli, fragmentedGPUMilli: max(0, totalFragmentation))
    }

    /// Overwrites a known node's free amounts (capacities and GPUs must be unchanged).
    public mutating func update(_ node: PlacementNode) throws(PlacementEngineError) {
        guard let n = storage.indexByName[node.name] else {
            throw PlacementEngineError(.unknownNode, "no node named '\(node.name)'")
        }
        try storage.replaceFree(of: n, with: node)
        nodeChanged(n)
    }

    // MARK: Decisions

    /// The best node and GPUs for `request` under the engine's policy, or `nil` when it fits nowhere. Changes
    /// nothing but caches; call ``allocate(_:for:)`` to take the resources.
    public mutating func place(_ request: PlacementRequest) -> Placement? {
        let r = storage.resolve(request)
        if policy == .random { return placeRandomly(r) }
        let base = cache.base(for: request.shape)
        var best = -1
        var bestScore = -Double.infinity
        var bestGPU: Int32 = -1
        for n in 0..<storage.count {
            guard storage.memoryFree[n] >= r.hostMemory, storage.cpuFree[n] >= r.cpu else { continue }
            let e = evaluation(of: n, for: r, base: base)
            guard e.fits else { continue }
            if e.score > bestScore || (e.score == bestScore && storage.nameRank[n] < storage.nameRank[best]) {
                best = n
                bestScore = e.score
                bestGPU = e.gpu
            }
        }
        guard best >= 0 else { return nil }
        return Placement(
            nodeName: storage.names[best], nodeIndex: best, gpuIndices: gpus(for: r, on: best, chosen: bestGPU),
            score: scorer.normalized(bestScore))
    }

    /// Places `request` and takes the resources; `nil` when it fits nowhere.
    public mutating func placeAndAllocate(_ request: PlacementRequest) -> Placement? {
        guard let placement = place(request) else { return nil }
        do {
            try allocate(placement, for: request)
        } catch {
            preconditionFailure("a fresh placement must fit: \(error)")
        }
        return placement
    }

    /// Filter and score for a scheduler extender: for each candidate, whether `request` fits and a 0…1
    /// score (higher is better). Unknown names do not fit.
    public mutating func scores(for request: PlacementRequest, nodeNames: [String]) -> [NodeScore] {
        let r = storage.resolve(request)
        let base = cache.base(for: request.shape)
        return nodeNames.map { name in
            guard let n = storage.indexByName[name], storage.memoryFree[n] >= r.hostMemory else {
                return NodeScore(nodeName: name, fits: false, score: 0, gpuIndices: [])
            }
            let e = evaluation(of: n, for: r, base: base)
            guard e.fits else { return NodeScore(nodeName: name, fits: false, score: 0, gpuIndices: []) }
            let score = policy == .random ? random.unit() : scorer.normalized(e.score)
            return NodeScore(nodeName: name, fits: true, score: score, gpuIndices: gpus(for: r, on: n, chosen: e.gpu))
        }
    }

    // MARK: Bookkeeping

    /// Takes the resources of `request` as placed; throws ``PlacementEngineError/Code/conflict`` when they are no
    /// longer free (nothing changes then).
    public mutating func allocate(_ placement: Placement, for request: PlacementRequest) throws(PlacementEngineError) {
        let n = try index(of: placement)
        let r = storage.resolve(request)
        let range = storage.gpuRange(of: n)
        guard placement.gpuIndices.count == r.gpuCount, Set(placement.gpuIndices).count == r.gpuCount,
              placement.gpuIndices.allSatisfy({ (0..<range.count).contains($0) })
        else {
            throw PlacementEngineError(.conflict, "placement on \(placement.nodeName) names GPUs \(placement.gpuIndices) for a request of \(r.gpuCount)")
        }
        guard storage.cpuFree[n] >= r.cpu, storage.memoryFree[n] >= r.hostMemory,
              placement.gpuIndices.allSatisfy({ r.fits(storage.gpus[range.lowerBound + $0]) })
        else {
            throw PlacementEngineError(.conflict, "request no longer fits node \(placement.nodeName) GPUs \(placement.gpuIndices)")
        }
        storage.cpuFree[n] -= r.cpu
        storage.memoryFree[n] -= r.hostMemory
        for g in placement.gpuIndices {
            let i = range.lowerBound + g
            storage.gpus[i].freeMemory -= r.memoryTaken(from: storage.gpus[i])
            storage.gpus[i].freeMilli -= r.milli
        }
        if r.affinityTag != 0 { storage.affinity[n][r.affinityTag, default: 0] += 1 }
        nodeChanged(n)
    }

    /// Hands back what ``allocate(_:for:)`` took; throws ``PlacementEngineError/Code/conflict`` when that would free
    /// more than the node has (nothing changes then).
    public mutating func release(_ placement: Placement, for request: PlacementRequest) throws(PlacementEngineError) {
        let n = try index(of: placement)
        let r = storage.resolve(request)
        let range = storage.gpuRange(of: n)
        guard placement.gpuIndices.count == r.gpuCount, Set(placement.gpuIndices).count == r.gpuCount,
              placement.gpuIndices.allSatisfy({ (0..<range.count).contains($0) }),
              storage.cpuFree[n] + r.cpu <= storage.cpuCapacity[n],
              storage.memoryFree[n] + r.hostMemory <= storage.memoryCapacity[n],
              placement.gpuIndices.allSatisfy({ g in
                  let gpu = storage.gpus[range.lowerBound + g]
                  return gpu.freeMilli + r.milli <= 1000 && gpu.freeMemory + r.memoryTaken(from: gpu) <= gpu.totalMemory
              })
        else {
            throw PlacementEngineError(.conflict, "releasing this request would free more than node \(placement.nodeName) has")
        }
        storage.cpuFree[n] += r.cpu
        storage.memoryFree[n] += r.hostMemory
        for g in placement.gpuIndices {
            let i = range.lowerBound + g
            storage.gpus[i].freeMemory += r.memoryTaken(from: storage.gpus[i])
            storage.gpus[i].freeMilli += r.milli
        }
        if r.affinityTag != 0 {
            let left = storage.affinity[n][r.affinityTag, default: 0] - 1
            storage.affinity[n][r.affinityTag] = left > 0 ? left : nil
        }
        nodeChanged(n)
    }

    // MARK: Internals

    private func index(of placement: Placement) throws(PlacementEngineError) -> Int {
        if placement.nodeIndex >= 0, placement.nodeIndex < storage.count,
           storage.names[placement.nodeIndex] == placement.nodeName {
            return placement.nodeIndex
        }
        guard let n = storage.indexByName[placement.nodeName] else {
            throw PlacementEngineError(.unknownNode, "no node named '\(placement.nodeName)'")
        }
        return n
    }

    private mutating func nodeChanged(_ n: Int) {
        storage.version[n] &+= 1
        if storage.version[n] == 0 { storage.version[n] = 1 }
        let f = computeFragmentation(of: n)
        totalFragmentation += f - nodeFragmentation[n]
        nodeFragmentation[n] = f
        nodeCost[n] = computeCost(of: n)
        let idle = storage.freeGPUMilli(of: n)
        idleGPUMilli += idle - idleByNode[n]
        idleByNode[n] = idle
    }

    private func computeFragmentation(of n: Int) -> Double {
        storage.gpus.withUnsafeBufferPointer { all in
            scorer.fragmentation.amount(
                cpuFree: storage.cpuFree[n], gpus: UnsafeBufferPointer(rebasing: all[storage.gpuRange(of: n)]))
        }
    }

    private func computeCost(of n: Int) -> Double {
        guard scorer.tesseraCost != nil else { return 0 }
        return storage.gpus.withUnsafeBufferPointer { all in
            scorer.cost(cpuFree: storage.cpuFree[n], gpus: UnsafeBufferPointer(rebasing: all[storage.gpuRange(of: n)]))
        }
    }

    private mutating func evaluation(of n: Int, for r: ResolvedRequest, base: Int) -> Evaluation {
        let slot = base + n
        let entry = cache.entries[slot]
        if entry.version == storage.version[n] { return Evaluation(score: entry.score, gpu: entry.gpu) }
        let e = evaluate(n, r)
        cache.entries[slot] = ScoreCache.Entry(version: storage.version[n], gpu: e.gpu, score: e.score)
        return e
    }

    private func evaluate(_ n: Int, _ r: ResolvedRequest) -> Evaluation {
        storage.gpus.withUnsafeBufferPointer { all in
            scorer.evaluate(r, on: NodeView(
                cpuFree: storage.cpuFree[n],
                gpus: UnsafeBufferPointer(rebasing: all[storage.gpuRange(of: n)]),
                fragmentation: nodeFragmentation[n], cost: nodeCost[n], affinity: storage.affinity[n]))
        }
    }

    private func gpus(for r: ResolvedRequest, on n: Int, chosen: Int32) -> [Int] {
        if chosen >= 0 { return [Int(chosen)] }
        return storage.gpus.withUnsafeBufferPointer { all in
            NodeScorer.defaultGPUs(for: r, on: UnsafeBufferPointer(rebasing: all[storage.gpuRange(of: n)]))
        }
    }

    /// The random baseline: a uniformly random fitting node, and on it a random fitting GPU for a share.
    private mutating func placeRandomly(_ r: ResolvedRequest) -> Placement? {
        var fitting: [Int] = []
        for n in 0..<storage.count where storage.memoryFree[n] >= r.hostMemory && storage.cpuFree[n] >= r.cpu {
            if evaluate(n, r).fits { fitting.append(n) }
        }
        guard !fitting.isEmpty else { return nil }
        let n = fitting[random.below(fitting.count)]
        var gpuIndices = gpus(for: r, on: n, chosen: -1)
        if r.isShared {
            let range = storage.gpuRange(of: n)
            let candidates = range.filter { r.fits(storage.gpus[$0]) }.map { $0 - range.lowerBound }
            gpuIndices = [candidates[random.below(candidates.count)]]
        }
        return Placement(nodeName: storage.names[n], nodeIndex: n, gpuIndices: gpuIndices, score: 0)
    }
}
