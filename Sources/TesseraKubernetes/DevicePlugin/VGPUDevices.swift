import TesseraWire

/// The device IDs a node advertises for its vGPUs and what the kubelet is told for each container: the pure
/// logic behind the device plugin's `ListAndWatch`, `GetPreferredAllocation` and `Allocate`, free of I/O.
///
/// IDs are `tessera-g<gpu>-v<slot>`, `vgpusPerGPU` of them per GPU. They are tokens for the kubelet's count
/// only: which capacity a container's programs get is decided from the pod's reservation, found by the pod's
/// UID in the program's cgroup (``PodGrantResolver``), so no two pods can swap vGPUs whatever IDs they get.
public struct VGPUDevices: Sendable, Hashable {
    /// One advertised device.
    public struct Device: Sendable, Hashable {
        public var id: String
        public var gpuIndex: Int
        public var healthy: Bool
    }

    /// The container-side result of `Allocate`.
    public struct ContainerAllocation: Sendable, Hashable {
        /// A bind mount from the host into the container.
        public struct Mount: Sendable, Hashable {
            public var containerPath: String
            public var hostPath: String
            public var readOnly: Bool
        }

        public var environment: [String: String]
        public var mounts: [Mount]
    }

    public let configuration: DevicePluginConfiguration
    public let gpuCount: Int
    private var unhealthyGPUs: Set<Int> = []

    public init(gpuCount: Int, configuration: DevicePluginConfiguration = .init()) {
        self.gpuCount = gpuCount
        self.configuration = configuration
    }

    /// Marks GPU `index` healthy or not; returns whether anything changed (ListAndWatch then sends a new list).
    @discardableResult
    public mutating func setHealth(ofGPU index: Int, healthy: Bool) -> Bool {
        healthy ? unhealthyGPUs.remove(index) != nil : unhealthyGPUs.insert(index).inserted
    }

    /// Every device, GPU by GPU; an unhealthy GPU's devices are unhealthy.
    public var devices: [Device] {
        (0..<gpuCount).flatMap { gpu in
            (0..<configuration.vgpusPerGPU).map { slot in
                Device(id: Self.id(gpu: gpu, slot: slot), gpuIndex: gpu, healthy: !unhealthyGPUs.contains(gpu))
            }
        }
    }

    /// `tessera-g<gpu>-v<slot>` (well under the kubelet's 63 characters).
    public static func id(gpu: Int, slot: Int) -> String { "tessera-g\(gpu)-v\(slot)" }

    /// The GPU of a device ID, or `nil` for an ID this plugin never advertised.
    public func gpuIndex(of id: String) -> Int? {
        guard id.hasPrefix("tessera-g"), let dash = id.firstIndex(of: "-", after: 9) else { return nil }
        let gpuPart = id[id.index(id.startIndex, offsetBy: 9)..<dash]
        let slotPart = id[id.index(after: dash)...]
        guard slotPart.hasPrefix("v"), let gpu = Int(gpuPart), let slot = Int(slotPart.dropFirst()),
              (0..<gpuCount).contains(gpu), (0..<configuration.vgpusPerGPU).contains(slot),
              Self.id(gpu: gpu, slot: slot) == id
        else { return nil }
        return gpu
    }

    /// The preferred `size` IDs: the required ones, then one per GPU in turn (the least used GPUs first),
    /// so a multi-vGPU container's IDs name distinct GPUs as its reservation does by default.
    public func preferredAllocation(available: [String], mustInclude: [String], size: Int) -> [String] {
        var chosen = Array(mustInclude.prefix(size))
        var taken = Set(chosen)
        var perGPU: [Int: [String]] = [:]
        for id in available.sorted() where !taken.contains(id) {
            guard let gpu = gpuIndex(of: id), !unhealthyGPUs.contains(gpu) else { continue }
            perGPU[gpu, default: []].append(id)
        }
        var usedByChoice: [Int: Int] = [:]
        for id in chosen { if let gpu = gpuIndex(of: id) { usedByChoice[gpu, default: 0] += 1 } }
        while chosen.count < size {
            // The GPU with the most free IDs left and the fewest already chosen; ties to the lower index.
            let candidates = perGPU.filter { !$0.value.isEmpty }
            guard let gpu = candidates.keys.min(by: {
                (usedByChoice[$0, default: 0], -candidates[$0]!.count, $0) < (usedByChoice[$1, default: 0], -candidates[$1]!.count, $1)
            }) else { break }
            let id = perGPU[gpu]!.removeFirst()
            chosen.append(id)
            taken.insert(id)
            usedByChoice[gpu, default: 0] += 1
        }
        return chosen
    }

    /// What the kubelet puts into a container given `deviceIDs`: the node's socket, the drop-in libraries
    /// (`libcudart.so.12`/`.13` and the driver `libcuda.so.1`, one read-only directory) ahead of NVIDIA's, and the
    /// vGPU count. Throws for IDs this plugin never advertised.
    public func allocate(deviceIDs: [String]) throws(KubernetesError) -> ContainerAllocation {
        guard !deviceIDs.isEmpty else { throw KubernetesError(.invalidRequest, "Allocate without device IDs") }
        for id in deviceIDs where gpuIndex(of: id) == nil {
            throw KubernetesError(.invalidRequest, "unknown device ID '\(id)'")
        }
        let c = configuration
        var environment = [
            "TESSERA_ENDPOINT": "\(c.socketDirectory)/\(c.socketName)",
            "TESSERA_VGPUS": "\(deviceIDs.count)",
            "TESSERA_DEVICE_IDS": deviceIDs.joined(separator: ","),
            "LD_LIBRARY_PATH": "\(c.containerLibraryDirectory):/usr/local/nvidia/lib64:/usr/local/cuda/lib64",
        ]
        if c.simulatedGPUs {
            let standIn = "\(c.containerLibraryDirectory)/ptx-only/libnvJitLink.so.13"
            environment.merge(VirtualGPUEnvironment.ptxClientSettings(jitLinkStandIn: standIn, current: { _ in nil })) { _, new in new }
        }
        var mounts: [ContainerAllocation.Mount] = [
            .init(containerPath: c.socketDirectory, hostPath: c.socketDirectory, readOnly: false),
            .init(containerPath: c.containerLibraryDirectory, hostPath: c.hostLibraryDirectory, readOnly: true),
        ]
        if let ca = c.caBundleHostPath {
            environment["TESSERA_CA"] = DevicePluginConfiguration.containerCABundle
            mounts.append(.init(containerPath: DevicePluginConfiguration.containerCABundle, hostPath: ca, readOnly: true))
        }
        return ContainerAllocation(environment: environment, mounts: mounts)
    }
}

extension String {
    fileprivate func firstIndex(of character: Character, after offset: Int) -> Index? {
        guard offset < count else { return nil }
        return self[index(startIndex, offsetBy: offset)...].firstIndex(of: character)
    }
}
