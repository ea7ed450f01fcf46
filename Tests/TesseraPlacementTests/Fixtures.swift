import Testing
import TesseraPlacement

/// Small hand-made clusters and requests shared by the tests.
enum Fixtures {
    static func node(
        _ name: String, cpu: Int = 64_000, memory: Int = 256_000, gpus: Int = 0, model: String = "V100M32",
        gpuMemory: Int = 32_768, freeMilli: [Int]? = nil, freeCPU: Int? = nil
    ) -> PlacementNode {
        let free = freeMilli ?? Array(repeating: 1000, count: gpus)
        return PlacementNode(
            name: name, cpuMilli: cpu, memoryMiB: memory,
            gpus: free.map { GPU(model: model, memoryMiB: gpuMemory, freeMilli: $0, freeMemoryMiB: gpuMemory * $0 / 1000) },
            freeCPUMilli: freeCPU)
    }

    static func share(_ milli: Int, cpu: Int = 1000, models: Set<String>? = nil) throws -> PlacementRequest {
        try PlacementRequest(cpuMilli: cpu, hostMemoryMiB: 1024, gpuCount: 1, computeMilliPerGPU: milli, allowedModels: models)
    }

    static func whole(_ count: Int, cpu: Int = 1000, models: Set<String>? = nil) throws -> PlacementRequest {
        try PlacementRequest.wholeGPUs(count, cpuMilli: cpu, hostMemoryMiB: 1024, allowedModels: models)
    }

    static func cpuOnly(_ cpu: Int) throws -> PlacementRequest {
        try PlacementRequest.cpuOnly(cpuMilli: cpu, hostMemoryMiB: 1024)
    }

    /// A workload of half shares of 500 milli and half single whole GPUs.
    static func halfSharesHalfWhole() throws -> TargetWorkload {
        try TargetWorkload(weights: [(share(500), 1), (whole(1), 1)])
    }

    static func engine(
        _ nodes: [PlacementNode], _ policy: ScoringPolicy, workload: TargetWorkload? = nil
    ) throws -> PlacementEngine {
        try PlacementEngine(nodes: nodes, policy: policy, workload: workload ?? halfSharesHalfWhole())
    }
}

/// `#require` for values computed by mutating calls (the macro cannot capture those).
func unwrap<T>(_ value: T?, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    try #require(value, sourceLocation: sourceLocation)
}
