/// The cluster in flat arrays, indexed by node position; a node's GPUs are `gpus[gpuStart[n]..<gpuStart[n+1]]`.
///
/// Every change to a node bumps its `version`, which is what score caches compare against.
struct ClusterStorage: Sendable {
    private(set) var names: [String]
    /// Position of each node in lexicographic (UTF-8 byte) order of names; smaller wins ties.
    private(set) var nameRank: [Int32]
    private(set) var indexByName: [String: Int]
    private(set) var cpuCapacity: [Int]
    var cpuFree: [Int]
    private(set) var memoryCapacity: [Int]
    var memoryFree: [Int]
    private(set) var gpuStart: [Int]
    var gpus: [GPUState]
    var version: [UInt32]
    private(set) var models: [String]
    private(set) var modelIDs: [String: Int32]
    /// Per node: clustering class → number of requests of that class placed there.
    var affinity: [[Int: Int]]
    private(set) var maxGPUsPerNode: Int

    init(nodes: [PlacementNode]) throws(PlacementEngineError) {
        names = []
        nameRank = []
        indexByName = [:]
        cpuCapacity = []
        cpuFree = []
        memoryCapacity = []
        memoryFree = []
        gpuStart = [0]
        gpus = []
        version = []
        models = []
        modelIDs = [:]
        affinity = []
        maxGPUsPerNode = 0
        for node in nodes {
            try node.validate()
            guard indexByName[node.name] == nil else {
                throw PlacementEngineError(.invalidCluster, "duplicate node name '\(node.name)'")
            }
            indexByName[node.name] = names.count
            names.append(node.name)
            cpuCapacity.append(node.cpuMilli)
            cpuFree.append(node.freeCPUMilli)
            memoryCapacity.append(node.memoryMiB)
            memoryFree.append(node.freeMemoryMiB)
            for gpu in node.gpus {
                gpus.append(GPUState(
                    freeMilli: Int32(gpu.freeMilli), freeMemory: Int32(gpu.freeMemoryMiB),
                    totalMemory: Int32(gpu.memoryMiB), model: try modelID(for: gpu.model)))
            }
            gpuStart.append(gpus.count)
            maxGPUsPerNode = max(maxGPUsPerNode, node.gpus.count)
            version.append(1)
            affinity.append([:])
        }
        let names = self.names
        let order = names.indices.sorted { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }
        var rank = [Int32](repeating: 0, count: names.count)
        for (position, index) in order.enumerated() { rank[index] = Int32(position) }
        nameRank = rank
    }

    private mutating func modelID(for name: String) throws(PlacementEngineError) -> Int32 {
        if let id = modelIDs[name] { return id }
        guard models.count < 64 else { throw PlacementEngineError(.invalidCluster, "more than 64 distinct GPU models") }
        let id = Int32(models.count)
        models.append(name)
        modelIDs[name] = id
        return id
    }

    var count: Int { names.count }

    func gpuRange(of node: Int) -> Range<Int> { gpuStart[node]..<gpuStart[node + 1] }

    func resolve(_ request: PlacementRequest) -> ResolvedRequest { ResolvedRequest(request, modelIDs: modelIDs) }

    /// The public view of node `index`.
    func node(at index: Int) -> PlacementNode {
        PlacementNode(
            name: names[index], cpuMilli: cpuCapacity[index], memoryMiB: memoryCapacity[index],
            gpus: gpuRange(of: index).map { i in
                let g = gpus[i]
                return GPU(model: models[Int(g.model)], memoryMiB: Int(g.totalMemory),
                           freeMilli: Int(g.freeMilli), freeMemoryMiB: Int(g.freeMemory))
            },
            freeCPUMilli: cpuFree[index], freeMemoryMiB: memoryFree[index])
    }

    /// Replaces node `index`'s free amounts with `node`'s; its capacities and GPU models must be unchanged.
    mutating func replaceFree(of index: Int, with node: PlacementNode) throws(PlacementEngineError) {
        try node.validate()
        let range = gpuRange(of: index)
        guard node.cpuMilli == cpuCapacity[index], node.memoryMiB == memoryCapacity[index],
              node.gpus.count == range.count,
              zip(range, node.gpus).allSatisfy({ i, gpu in
                  models[Int(gpus[i].model)] == gpu.model && Int(gpus[i].totalMemory) == gpu.memoryMiB
              })
        else {
            throw PlacementEngineError(.invalidCluster, "node \(node.name): capacities or GPUs differ; build a new engine to change hardware")
        }
        cpuFree[index] = node.freeCPUMilli
        memoryFree[index] = node.freeMemoryMiB
        for (i, gpu) in zip(range, node.gpus) {
            gpus[i].freeMilli = Int32(gpu.freeMilli)
            gpus[i].freeMemory = Int32(gpu.freeMemoryMiB)
        }
        version[index] &+= 1
    }

    /// Free GPU compute on node `index`, in milli.
    func freeGPUMilli(of index: Int) -> Int {
        var total = 0
        for i in gpuRange(of: index) { total += Int(gpus[i].freeMilli) }
        return total
    }
}
