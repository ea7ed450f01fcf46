import TesseraPlacement

/// What one pod asks of Tessera: vGPUs of a given size, optionally restricted to GPU models.
///
/// Each container asks for `tessera.dev/vgpu` vGPUs, each of `tessera.dev/vgpu-memory` MiB and
/// `tessera.dev/vgpu-compute` percent (defaults apply when only the count is given). A pod's containers are
/// placed together: the pod reserves the sum of the counts, each vGPU sized to the largest container's vGPU,
/// so the reservation never undercounts what any container may use.
public struct VGPURequest: Sendable, Hashable {
    /// How a pod's vGPUs share physical GPUs.
    public enum Layout: String, Sendable, Hashable {
        /// Each vGPU on its own GPU of the node (the default; what multi-GPU programs expect).
        case spread
        /// All vGPUs on one GPU of the node.
        case pack
    }

    /// One container's share of the request.
    public struct Container: Sendable, Hashable {
        public var name: String
        public var vgpus: Int
        public var memoryMiB: Int
        public var computePercent: Int
    }

    /// The containers asking for vGPUs, in the pod's order.
    public var containers: [Container]
    /// Accepted GPU models; `nil` accepts any.
    public var allowedModels: Set<String>?
    /// How the vGPUs share GPUs.
    public var layout: Layout
    /// How each vGPU's compute share is enforced: `"share"` (guaranteed, idle time of others usable) or
    /// `"limit"` (a hard cap).
    public var computeMode: String

    /// Total vGPUs over all containers.
    public var vgpuCount: Int { containers.reduce(0) { $0 + $1.vgpus } }
    /// Memory of each reserved vGPU: the largest container's.
    public var memoryMiBPerVGPU: Int { containers.map(\.memoryMiB).max() ?? 0 }
    /// Compute of each reserved vGPU: the largest container's.
    public var computePercentPerVGPU: Int { containers.map(\.computePercent).max() ?? 0 }

    /// The request of `pod`, or `nil` when it asks for no vGPU. Throws ``KubernetesError/Code/invalidRequest``
    /// when a quantity or annotation is malformed.
    public init?(
        pod: Pod, names: ResourceNames = .standard, defaultMemoryMiB: Int = 1024, defaultComputePercent: Int = 10
    ) throws(KubernetesError) {
        var containers: [Container] = []
        for container in pod.spec.containers {
            let limits = container.resources?.limits ?? [:]
            let requests = container.resources?.requests ?? [:]
            func quantity(_ name: String) throws(KubernetesError) -> Int? {
                guard let text = limits[name] ?? requests[name] else { return nil }
                guard let value = Int(text), value >= 0 else {
                    throw KubernetesError(
                        .invalidRequest,
                        "pod \(pod.qualifiedName) container \(container.name): \(name) '\(text)' is not a whole number")
                }
                return value
            }
            guard let count = try quantity(names.vgpu), count > 0 else {
                let memory = try quantity(names.vgpuMemory)
                let compute = try quantity(names.vgpuCompute)
                if memory != nil || compute != nil {
                    throw KubernetesError(
                        .invalidRequest,
                        "pod \(pod.qualifiedName) container \(container.name): \(names.vgpuMemory)/\(names.vgpuCompute) need \(names.vgpu) ≥ 1")
                }
                continue
            }
            let memory = try quantity(names.vgpuMemory) ?? defaultMemoryMiB
            let compute = try quantity(names.vgpuCompute) ?? defaultComputePercent
            guard count <= 64, memory >= 1, (1...100).contains(compute) else {
                throw KubernetesError(
                    .invalidRequest,
                    "pod \(pod.qualifiedName) container \(container.name): needs 1…64 vGPUs of ≥ 1 MiB and 1…100 % compute, got \(count) × \(memory) MiB, \(compute) %")
            }
            containers.append(Container(name: container.name, vgpus: count, memoryMiB: memory, computePercent: compute))
        }
        guard !containers.isEmpty else { return nil }
        let annotations = pod.metadata.annotations ?? [:]
        var models: Set<String>?
        if let text = annotations[names.gpuModelAnnotation] {
            let list = text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            models = list.isEmpty ? nil : Set(list)
        }
        var layout = Layout.spread
        if let text = annotations[names.placementAnnotation] {
            guard let parsed = Layout(rawValue: text.trimmingWhitespace().lowercased()) else {
                throw KubernetesError(
                    .invalidRequest, "pod \(pod.qualifiedName): \(names.placementAnnotation) must be 'spread' or 'pack', got '\(text)'")
            }
            layout = parsed
        }
        var computeMode = "share"
        if let text = annotations[names.computeModeAnnotation] {
            let mode = text.trimmingWhitespace().lowercased()
            guard mode == "share" || mode == "limit" else {
                throw KubernetesError(
                    .invalidRequest, "pod \(pod.qualifiedName): \(names.computeModeAnnotation) must be 'share' or 'limit', got '\(text)'")
            }
            computeMode = mode
        }
        self.init(containers: containers, allowedModels: models, layout: layout, computeMode: computeMode)
        if layout == .pack, computePercentPerVGPU * vgpuCount > 100 {
            throw KubernetesError(
                .invalidRequest, "pod \(pod.qualifiedName): \(vgpuCount) packed vGPUs of \(computePercentPerVGPU) % exceed one GPU")
        }
    }

    /// A request from its parts.
    public init(containers: [Container], allowedModels: Set<String>? = nil, layout: Layout = .spread, computeMode: String = "share") {
        self.containers = containers
        self.allowedModels = allowedModels
        self.layout = layout
        self.computeMode = computeMode
    }

    /// The placement engine's view: one share per GPU (spread) or one share of one GPU holding all (pack).
    public func placementRequest() throws(KubernetesError) -> PlacementRequest {
        do throws(PlacementEngineError) {
            switch layout {
            case .spread:
                return try PlacementRequest(
                    gpuCount: vgpuCount, computeMilliPerGPU: computePercentPerVGPU * 10,
                    gpuMemory: .mebibytes(memoryMiBPerVGPU), allowedModels: allowedModels)
            case .pack:
                return try PlacementRequest(
                    gpuCount: 1, computeMilliPerGPU: computePercentPerVGPU * 10 * vgpuCount,
                    gpuMemory: .mebibytes(memoryMiBPerVGPU * vgpuCount), allowedModels: allowedModels)
            }
        } catch {
            throw KubernetesError(.invalidRequest, error.message)
        }
    }

    /// The request in words, for filter reasons.
    public var summary: String {
        let models = allowedModels.map { " on \($0.sorted().joined(separator: "/"))" } ?? ""
        return "\(vgpuCount) vGPU(s) of \(memoryMiBPerVGPU) MiB, \(computePercentPerVGPU) % (\(layout.rawValue), \(computeMode))\(models)"
    }
}

extension VGPURequest {
    /// Why the request does not fit on `node` (with its free amounts), in words, for a filter's reasons.
    public func rejection(on node: PlacementNode) -> String {
        rejections(on: [node])[0]!
    }

    /// The reasons for many nodes at once (`nil` for an unknown node): a filter rejects up to every node of the
    /// cluster, so the words shared between nodes are made once.
    public func rejections(on nodes: [PlacementNode?]) -> [String?] {
        let summary = self.summary
        let allowed = allowedModels.map { $0.sorted().joined(separator: ",") }
        var modelReasons: [String: String] = [:]
        return nodes.map { node -> String? in
            guard let node else { return nil }
            if let models = allowedModels, !node.gpus.contains(where: { models.contains($0.model) }) {
                // Nodes have one model as a rule: one sentence per model.
                let single = node.gpus.first.map { first in node.gpus.allSatisfy { $0.model == first.model } } ?? true
                let key = single ? (node.gpus.first?.model ?? "none") : Set(node.gpus.map(\.model)).sorted().joined(separator: ",")
                if let reason = modelReasons[key] { return reason }
                let reason = "GPU model \(key) not in \(allowed ?? "")"
                modelReasons[key] = reason
                return reason
            }
            var text = "cannot host "
            text.reserveCapacity(summary.utf8.count + 32 + node.gpus.count * 20)
            text += summary
            text += "; free per GPU: ["
            for (i, gpu) in node.gpus.enumerated() {
                if i > 0 { text += ", " }
                text += String(gpu.freeMemoryMiB)
                text += " MiB/"
                text += String(gpu.freeMilli / 10)
                text += " %"
            }
            text += "]"
            return text
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
