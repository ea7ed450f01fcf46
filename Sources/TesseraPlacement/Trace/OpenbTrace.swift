/// A trace in the openb CSV format of the Alibaba GPU-sharing trace (cluster-trace-gpu-v2023): a node list
/// and a pod list, read by column name so extra, missing optional or reordered columns are fine.
///
/// Node list columns: `sn` (or `name`), `cpu_milli`, `memory_mib`, `gpu`, `model`; optional `gpu_memory_mib`.
/// Pod list columns: `name`, `cpu_milli`, `memory_mib`, `num_gpu`, `gpu_milli`; optional `gpu_spec`
/// (`|`-separated models). Mapping: `gpu_milli` < 1000 is a share of one GPU's compute and the same fraction of
/// its memory; 1000 means `num_gpu` whole GPUs; 0 GPUs is a CPU-only pod.
public struct OpenbTrace: Sendable {
    /// One pod of the trace.
    public struct Pod: Sendable, Hashable {
        public let name: String
        public let request: PlacementRequest
    }

    /// The nodes (by default only those with GPUs).
    public let nodes: [PlacementNode]
    /// The pods in file order.
    public let pods: [Pod]

    public init(nodes: [PlacementNode], pods: [Pod]) {
        self.nodes = nodes
        self.pods = pods
    }

    /// Reads both files.
    public init(
        nodesFile: String, podsFile: String, gpuMemory: GPUMemoryTable = .standard, gpuNodesOnly: Bool = true
    ) throws(PlacementEngineError) {
        self.init(
            nodes: try Self.parseNodes(TextFile.read(nodesFile), file: nodesFile, gpuMemory: gpuMemory, gpuNodesOnly: gpuNodesOnly),
            pods: try Self.parsePods(TextFile.read(podsFile), file: podsFile))
    }

    /// Parses a node list.
    public static func parseNodes(
        _ text: String, file: String, gpuMemory: GPUMemoryTable = .standard, gpuNodesOnly: Bool = true
    ) throws(PlacementEngineError) -> [PlacementNode] {
        let table = try CSVTable(parsing: text, file: file)
        let columns = try table.columns(
            [table.header.contains("sn") ? "sn" : "name", "cpu_milli", "memory_mib", "gpu", "model"], file: file)
        let (nameColumn, cpu, memory, gpuCount, model) = (columns[0], columns[1], columns[2], columns[3], columns[4])
        let gpuMemoryColumn = table.header.firstIndex(of: "gpu_memory_mib")
        var nodes: [PlacementNode] = []
        var seen: Set<String> = []
        for row in table.rows {
            let field = Fields(row: row, header: table.header, file: file)
            let name = try field.nonEmpty(nameColumn)
            guard seen.insert(name).inserted else {
                throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): duplicate node name '\(name)'")
            }
            let gpus = try field.integer(gpuCount, in: 0...64)
            if gpus == 0 && gpuNodesOnly { continue }
            let modelName = row.fields[model]
            if gpus > 0 && modelName.isEmpty {
                throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): node '\(name)' has \(gpus) GPUs but no model")
            }
            var perGPU = gpuMemory.memoryMiB(of: modelName)
            if let column = gpuMemoryColumn, !row.fields[column].isEmpty {
                perGPU = try field.integer(column, in: 1...Int(Int32.max))
            }
            nodes.append(PlacementNode(
                name: name, cpuMilli: try field.integer(cpu), memoryMiB: try field.integer(memory),
                gpus: Array(repeating: GPU(model: modelName, memoryMiB: perGPU), count: gpus)))
        }
        return nodes
    }

    /// Parses a pod list.
    public static func parsePods(_ text: String, file: String) throws(PlacementEngineError) -> [Pod] {
        let table = try CSVTable(parsing: text, file: file)
        let columns = try table.columns(["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"], file: file)
        let (name, cpu, memory, count, milli) = (columns[0], columns[1], columns[2], columns[3], columns[4])
        let spec = table.header.firstIndex(of: "gpu_spec")
        var pods: [Pod] = []
        pods.reserveCapacity(table.rows.count)
        for row in table.rows {
            let field = Fields(row: row, header: table.header, file: file)
            let gpus = try field.integer(count, in: 0...64)
            let share = try field.integer(milli, in: 0...1000)
            if gpus > 0 && share == 0 {
                throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): num_gpu is \(gpus) but gpu_milli is 0")
            }
            if gpus == 0 && share != 0 {
                throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): gpu_milli is \(share) but num_gpu is 0")
            }
            var models: Set<String>?
            if let spec, !row.fields[spec].isEmpty {
                models = Set(row.fields[spec].split(separator: "|").map { String($0).trimmingASCIISpaces() }.filter { !$0.isEmpty })
            }
            let podName = try field.nonEmpty(name)
            let cpuMilli = try field.integer(cpu)
            let memoryMiB = try field.integer(memory)
            do {
                let request = try PlacementRequest(
                    cpuMilli: cpuMilli, hostMemoryMiB: memoryMiB, gpuCount: gpus, computeMilliPerGPU: share,
                    gpuMemory: .sameFractionAsCompute, wholeGPU: share == 1000, allowedModels: models)
                pods.append(Pod(name: podName, request: request))
            } catch {
                throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): \(error.message)")
            }
        }
        return pods
    }
}

/// Typed access to one row's fields with errors that name file, line and column.
private struct Fields {
    let row: CSVTable.Row
    let header: [String]
    let file: String

    func nonEmpty(_ column: Int) throws(PlacementEngineError) -> String {
        let value = row.fields[column]
        guard !value.isEmpty else {
            throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): empty \(header[column])")
        }
        return value
    }

    func integer(_ column: Int, in range: ClosedRange<Int> = 0...Int.max) throws(PlacementEngineError) -> Int {
        let text = row.fields[column]
        guard let value = Int(text) else {
            throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): \(header[column]) '\(text)' is not a whole number")
        }
        guard range.contains(value) else {
            let upper = range.upperBound == Int.max ? "" : "\(range.upperBound)"
            throw PlacementEngineError(.invalidTrace, "\(file):\(row.line): \(header[column]) \(value) outside \(range.lowerBound)…\(upper)")
        }
        return value
    }
}
