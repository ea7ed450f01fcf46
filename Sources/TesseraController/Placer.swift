import TesseraPlacement
import TesseraPoolAPI

/// Chooses GPUs for the controller's leases and reservations. It checks a spec, places its vGPUs under the
/// pool's strategy (one at a time, all on one node, or all together on distinct GPUs of one node or on one GPU)
/// and names the chosen GPUs by their device indices. It owns the placement engine: a cache of the up nodes and
/// their grants, kept in step with every take and free, rebuilt from the pool when the usable nodes change.
/// Pure: no I/O, no clock.
struct Placer: Sendable {
    /// What is granted on each GPU, by node and device index.
    typealias Grants = [GPUKey: (memoryMiB: Int, computePercent: Int)]

    let strategy: PlacementStrategy
    let workload: TargetWorkload
    private var cache: Cache?

    /// The engine and what it takes to name the GPUs it picks.
    private struct Cache: Sendable {
        var engine: PlacementEngine
        /// Each node's GPUs in the engine's order (by device index), and its endpoint.
        var layouts: [String: NodeLayout]
    }

    private struct NodeLayout: Sendable {
        var endpoint: String?
        var gpus: [GPUDescription]
    }

    /// How one spec is placed, from its flags.
    enum Mode: Equatable {
        /// Each vGPU where the strategy ranks best, the preferred node first.
        case each
        /// All vGPUs on one node, each placed there on its own.
        case oneNode
        /// All vGPUs in one engine decision: on distinct GPUs of one node, or all on one GPU.
        case together
    }

    init(strategy: PlacementStrategy, workload: TargetWorkload = .commonSlices) {
        self.strategy = strategy
        self.workload = workload
    }

    /// Forgets the engine: the usable nodes or their GPUs changed.
    mutating func invalidate() { cache = nil }

    // MARK: Checking a spec

    /// What a valid spec asks of each vGPU, in the engine's terms.
    struct Checked: Equatable {
        var one: PlacementRequest
        /// Models the vGPUs may use; nil for any.
        var allowedModels: Set<String>?
        var mode: Mode
    }

    /// Checks `spec` against the pool's nodes without placing anything.
    static func check(_ spec: VirtualGPUSpec, nodes: [String: PoolState.NodeRecord], cordons: Set<String> = []) throws(PoolError) -> Checked {
        guard (1...64).contains(spec.vgpus) else { throw PoolError(.invalidRequest, "vgpus must be 1…64, got \(spec.vgpus)") }
        if !spec.wholeGPU {
            guard spec.memoryMiB >= 1 else { throw PoolError(.invalidRequest, "memoryMiB must be at least 1") }
            guard (0...100).contains(spec.computePercent) else {
                throw PoolError(.invalidRequest, "computePercent must be 0…100 (0: best effort), got \(spec.computePercent)")
            }
            // Best effort runs only on idle time: a hard cap of nothing would never run.
            guard spec.computePercent > 0 || spec.computeMode != "limit" else {
                throw PoolError(.invalidRequest, "a best-effort vGPU (computePercent 0) cannot use computeMode limit")
            }
        }
        if let only = spec.node {
            guard let n = nodes[only] else { throw PoolError(.notFound, "no node \(only)") }
            guard n.state == .up else { throw PoolError(.conflict, "node \(only) is down") }
            guard !cordons.contains(only) else { throw PoolError(.conflict, "node \(only) is cordoned") }
        }
        let allModels = Set(nodes.values.flatMap { $0.registration.gpus.map(\.model) })
        var models = spec.allowedModels.isEmpty ? allModels : Set(spec.allowedModels)
        models.subtract(spec.deniedModels)
        guard !models.isEmpty else { throw PoolError(.unavailable, "no GPU model in the pool is allowed by the request") }
        let allowed: Set<String>? = spec.allowedModels.isEmpty && spec.deniedModels.isEmpty ? nil : models
        let one: PlacementRequest
        do throws(PlacementEngineError) {
            one = spec.wholeGPU
                ? try .wholeGPUs(1, allowedModels: allowed)
                : try .sharedGPU(computePercent: spec.computePercent, memoryMiB: spec.memoryMiB, allowedModels: allowed)
        } catch {
            throw PoolError(.invalidRequest, error.message)
        }
        guard ["share", "limit"].contains(spec.computeMode) else {
            throw PoolError(.invalidRequest, "computeMode must be share or limit, got \(spec.computeMode)")
        }
        let mode: Mode = !spec.wholeGPU && spec.vgpus > 1 && (spec.distinctGPUs || spec.sameGPU) ? .together
            : spec.sameNode && spec.vgpus > 1 ? .oneNode : .each
        return Checked(one: one, allowedModels: allowed, mode: mode)
    }

    // MARK: Placing

    /// Chooses GPUs for `spec` and takes them; throws `unavailable` with what is free when it does not fit
    /// (nothing is taken then). `granted` is asked only when the engine must be rebuilt.
    mutating func place(
        _ spec: VirtualGPUSpec, nodes: [String: PoolState.NodeRecord], cordons: Set<String> = [], granted: () -> Grants
    ) throws(PoolError) -> [VirtualGPUAssignment] {
        let checked = try Self.check(spec, nodes: nodes, cordons: cordons)
        var cache = try current(nodes: nodes, cordons: cordons, granted: granted)
        defer { self.cache = cache }
        let candidates = spec.node.map { [$0] } ?? cache.engine.nodes.map(\.name)
        let preferred = spec.preferredNode.flatMap { p in candidates.contains(p) ? p : nil }
        let taken: [Placement]
        switch checked.mode {
        case .together:
            taken = try placeTogether(spec, checked, among: candidates, in: &cache)
        case .oneNode:
            taken = try placeOnOneNode(spec, checked.one, among: candidates, preferred: preferred, in: &cache)
        case .each:
            taken = try placeEach(spec, checked.one, among: candidates, preferred: preferred, in: &cache)
        }
        return taken.map { p in
            let layout = cache.layouts[p.nodeName]!
            let gpu = layout.gpus[p.gpuIndices[0]]
            return VirtualGPUAssignment(
                node: p.nodeName, gpu: gpu.index,
                memoryMiB: spec.wholeGPU ? gpu.memoryMiB : spec.memoryMiB, computePercent: spec.wholeGPU ? 100 : spec.computePercent,
                endpoint: layout.endpoint)
        }
    }

    /// Each vGPU on its own: the preferred node (where the program runs) first, so its vGPUs are local where
    /// they fit.
    private func placeEach(
        _ spec: VirtualGPUSpec, _ one: PlacementRequest, among candidates: [String], preferred: String?, in cache: inout Cache
    ) throws(PoolError) -> [Placement] {
        var taken: [Placement] = []
        for n in 0..<spec.vgpus {
            let chosen = preferred.flatMap { pick(one, among: [$0], engine: &cache.engine) } ?? pick(one, among: candidates, engine: &cache.engine)
            guard let chosen else {
                Self.undo(taken, one, in: &cache.engine)
                throw PoolError(.unavailable, "cannot place vGPU \(n + 1) of \(spec.vgpus) (\(Self.describe(spec))): free: \(Self.freeSummary(cache))")
            }
            do throws(PlacementEngineError) { try cache.engine.allocate(chosen, for: one) } catch {
                Self.undo(taken, one, in: &cache.engine)
                throw PoolError(.conflict, error.message)
            }
            taken.append(chosen)
        }
        return taken
    }

    /// All on one node: the preferred node, then nodes in the order the strategy ranks them for one vGPU,
    /// taking every vGPU there before settling on it.
    private func placeOnOneNode(
        _ spec: VirtualGPUSpec, _ one: PlacementRequest, among candidates: [String], preferred: String?, in cache: inout Cache
    ) throws(PoolError) -> [Placement] {
        var remaining = candidates
        var order: [String] = preferred.map { [$0] } ?? []
        remaining.removeAll { order.contains($0) }
        while true {
            if order.isEmpty {
                guard let next = pick(one, among: remaining, engine: &cache.engine)?.nodeName else { break }
                order = [next]
                remaining.removeAll { $0 == next }
            }
            let name = order.removeFirst()
            var taken: [Placement] = []
            for _ in 0..<spec.vgpus {
                guard let p = pick(one, among: [name], engine: &cache.engine), (try? cache.engine.allocate(p, for: one)) != nil else { break }
                taken.append(p)
            }
            if taken.count == spec.vgpus { return taken }
            Self.undo(taken, one, in: &cache.engine)
        }
        throw PoolError(.unavailable, "cannot place \(spec.vgpus) vGPUs (\(Self.describe(spec))) on one node: free: \(Self.freeSummary(cache))")
    }

    /// All vGPUs at once: on distinct GPUs of one node, or all on one GPU.
    private func placeTogether(
        _ spec: VirtualGPUSpec, _ checked: Checked, among candidates: [String], in cache: inout Cache
    ) throws(PoolError) -> [Placement] {
        let together: PlacementRequest
        do throws(PlacementEngineError) {
            together = spec.sameGPU
                ? try PlacementRequest(gpuCount: 1, computeMilliPerGPU: spec.computePercent * 10 * spec.vgpus,
                                       gpuMemory: .mebibytes(spec.memoryMiB * spec.vgpus), allowedModels: checked.allowedModels)
                : try PlacementRequest(gpuCount: spec.vgpus, computeMilliPerGPU: spec.computePercent * 10,
                                       gpuMemory: .mebibytes(spec.memoryMiB), allowedModels: checked.allowedModels)
        } catch {
            throw PoolError(.invalidRequest, "\(spec.vgpus) vGPUs of \(Self.describe(spec)) on \(spec.sameGPU ? "one GPU" : "distinct GPUs"): \(error.message)")
        }
        guard let chosen = pick(together, among: candidates, engine: &cache.engine) else {
            throw PoolError(.unavailable, "cannot place \(spec.vgpus) vGPUs of \(Self.describe(spec)) \(spec.sameGPU ? "on one GPU" : "on distinct GPUs of one node"): free: \(Self.freeSummary(cache))")
        }
        let positions = spec.sameGPU ? Array(repeating: chosen.gpuIndices[0], count: spec.vgpus) : chosen.gpuIndices
        var taken: [Placement] = []
        for position in positions {
            let p = Placement(nodeName: chosen.nodeName, nodeIndex: chosen.nodeIndex, gpuIndices: [position], score: chosen.score)
            do throws(PlacementEngineError) { try cache.engine.allocate(p, for: checked.one) } catch {
                Self.undo(taken, checked.one, in: &cache.engine)
                throw PoolError(.conflict, error.message)
            }
            taken.append(p)
        }
        return taken
    }

    /// The best node among `names` for `request` under the strategy, or nil when it fits none.
    private func pick(_ request: PlacementRequest, among names: [String], engine: inout PlacementEngine) -> Placement? {
        if case .spread = strategy {
            let scored = engine.scores(for: request, nodeNames: names).filter(\.fits)
            let best = scored.max { a, b in
                let fa = engine.node(named: a.nodeName)!.freeGPUMilli, fb = engine.node(named: b.nodeName)!.freeGPUMilli
                return fa != fb ? fa < fb : a.nodeName > b.nodeName
            }
            guard let best else { return nil }
            return Placement(nodeName: best.nodeName, nodeIndex: -1, gpuIndices: best.gpuIndices, score: best.score)
        }
        if names.count == engine.nodes.count { return engine.place(request) }
        let scored = engine.scores(for: request, nodeNames: names).filter(\.fits)
        guard let best = scored.max(by: { $0.score != $1.score ? $0.score < $1.score : $0.nodeName > $1.nodeName }) else { return nil }
        return Placement(nodeName: best.nodeName, nodeIndex: -1, gpuIndices: best.gpuIndices, score: best.score)
    }

    private static func undo(_ taken: [Placement], _ request: PlacementRequest, in engine: inout PlacementEngine) {
        for p in taken { try? engine.release(p, for: request) }
    }

    // MARK: Freeing

    /// Hands back the vGPUs of an ended grant. An engine that cannot take them back is out of step with the
    /// grants: it is dropped and rebuilt from them on the next placement.
    mutating func free(_ vgpus: [VirtualGPUAssignment], spec: VirtualGPUSpec) {
        guard var cache else { return }
        for v in vgpus {
            guard let layout = cache.layouts[v.node], let position = layout.gpus.firstIndex(where: { $0.index == v.gpu }) else { continue }
            let request = spec.wholeGPU
                ? try? PlacementRequest.wholeGPUs(1)
                : try? PlacementRequest.sharedGPU(computePercent: v.computePercent, memoryMiB: v.memoryMiB)
            guard let request,
                  (try? cache.engine.release(Placement(nodeName: v.node, nodeIndex: -1, gpuIndices: [position], score: 0), for: request)) != nil
            else {
                self.cache = nil
                return
            }
        }
        self.cache = cache
    }

    // MARK: The engine

    /// The engine over usable nodes with current grants, rebuilt when the node set changed.
    /// Cordoned nodes are left out; cordoned GPUs count as full, like unhealthy ones.
    private func current(nodes: [String: PoolState.NodeRecord], cordons: Set<String>, granted: () -> Grants) throws(PoolError) -> Cache {
        if let cache { return cache }
        let g = granted()
        var layouts: [String: NodeLayout] = [:]
        let usable = nodes.keys.sorted().compactMap { name -> PlacementNode? in
            let n = nodes[name]!
            guard n.state == .up, !cordons.contains(name) else { return nil }
            let sorted = n.registration.gpus.sorted { $0.index < $1.index }
            layouts[name] = NodeLayout(endpoint: n.registration.endpoint, gpus: sorted)
            let gpus = sorted.map { gpu -> GPU in
                let k = GPUKey(node: name, index: gpu.index)
                let usable = gpu.healthy && !cordons.contains("\(name)/\(gpu.index)")
                let usedMilli = usable ? min(1000, max(0, (g[k]?.computePercent ?? 0) * 10)) : 1000
                let usedMemory = usable ? min(gpu.memoryMiB, max(0, g[k]?.memoryMiB ?? 0)) : gpu.memoryMiB
                return GPU(model: gpu.model, memoryMiB: gpu.memoryMiB, freeMilli: 1000 - usedMilli, freeMemoryMiB: gpu.memoryMiB - usedMemory)
            }
            // CPU and host memory are not the controller's to hand out: give every node plenty.
            return PlacementNode(name: name, cpuMilli: 1 << 30, memoryMiB: 1 << 40, gpus: gpus)
        }
        do throws(PlacementEngineError) {
            return Cache(engine: try PlacementEngine(nodes: usable, policy: strategy.enginePolicy, workload: workload), layouts: layouts)
        } catch {
            // Registration checks every node, so this is a pool the engine cannot model (e.g. too many models).
            throw PoolError(.unavailable, "the pool's GPUs cannot be placed on: \(error.message)")
        }
    }

    // MARK: Words

    /// The GPUs with room left, for refusals.
    private static func freeSummary(_ cache: Cache) -> String {
        let free = cache.engine.nodes.flatMap { node in
            node.gpus.enumerated().compactMap { position, gpu -> String? in
                guard gpu.freeMemoryMiB > 0, let device = cache.layouts[node.name]?.gpus[position] else { return nil }
                return "\(node.name)/\(device.index) \(gpu.freeMemoryMiB) MiB \(gpu.freeMilli / 10) %"
            }
        }
        if free.isEmpty { return "nothing (every GPU up is fully granted, or none is up)" }
        return free.prefix(12).joined(separator: ", ") + (free.count > 12 ? " and \(free.count - 12) more GPUs" : "")
    }

    static func describe(_ spec: VirtualGPUSpec) -> String {
        spec.wholeGPU ? "whole GPU" : "\(spec.memoryMiB) MiB, \(spec.computePercent == 0 ? "best effort" : "\(spec.computePercent) %")"
    }
}
