/// One node of the cluster as the placement engine sees it: CPU, host memory and its GPUs.
public struct PlacementNode: Hashable, Sendable {
    /// The node's unique name; ties between equally good nodes break to the lexicographically smallest name.
    public var name: String
    /// CPU capacity in milli-cores.
    public var cpuMilli: Int
    /// CPU not yet handed out, in milli-cores.
    public var freeCPUMilli: Int
    /// Host memory capacity in MiB.
    public var memoryMiB: Int
    /// Host memory not yet handed out, in MiB.
    public var freeMemoryMiB: Int
    /// The node's GPUs in device-index order.
    public var gpus: [GPU]

    /// A node; by default entirely free.
    public init(
        name: String, cpuMilli: Int, memoryMiB: Int, gpus: [GPU],
        freeCPUMilli: Int? = nil, freeMemoryMiB: Int? = nil
    ) {
        self.name = name
        self.cpuMilli = cpuMilli
        self.memoryMiB = memoryMiB
        self.gpus = gpus
        self.freeCPUMilli = freeCPUMilli ?? cpuMilli
        self.freeMemoryMiB = freeMemoryMiB ?? memoryMiB
    }

    /// Free compute summed over the node's GPUs, in milli.
    public var freeGPUMilli: Int { gpus.reduce(0) { $0 + $1.freeMilli } }

    /// Checks that free amounts lie within capacities.
    func validate() throws(PlacementEngineError) {
        guard !name.isEmpty else { throw PlacementEngineError(.invalidCluster, "a node has an empty name") }
        guard cpuMilli >= 0, (0...cpuMilli).contains(freeCPUMilli) else {
            throw PlacementEngineError(.invalidCluster, "node \(name): free CPU \(freeCPUMilli) outside 0…\(cpuMilli) milli")
        }
        guard memoryMiB >= 0, (0...memoryMiB).contains(freeMemoryMiB) else {
            throw PlacementEngineError(.invalidCluster, "node \(name): free memory \(freeMemoryMiB) outside 0…\(memoryMiB) MiB")
        }
        for (index, gpu) in gpus.enumerated() {
            guard (0...1000).contains(gpu.freeMilli) else {
                throw PlacementEngineError(.invalidCluster, "node \(name) GPU \(index): free compute \(gpu.freeMilli) outside 0…1000 milli")
            }
            guard gpu.memoryMiB > 0, gpu.memoryMiB <= Int(Int32.max), (0...gpu.memoryMiB).contains(gpu.freeMemoryMiB) else {
                throw PlacementEngineError(.invalidCluster, "node \(name) GPU \(index): free memory \(gpu.freeMemoryMiB) outside 0…\(gpu.memoryMiB) MiB")
            }
        }
    }
}
