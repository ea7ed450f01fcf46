#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import TesseraDevice
import TesseraWire

/// Real NVIDIA GPUs through the CUDA driver API. The node process never loads the driver: a probing worker
/// reports the GPUs (and what a context costs on each) at start-up, and every session's vGPU gets a worker
/// process of its own that holds its context. A fault, which leaves a CUDA process unusable, ends one worker;
/// the node and the other sessions carry on.
public final class CUDABackend: DeviceBackend {
    public struct Configuration: Sendable {
        /// The driver library each worker loads (`--cuda-driver`).
        public var driverPath: String
        /// Driver ordinals to use (`--gpus 0,2`); nil for all.
        public var selection: [Int]?
        /// How to start a worker (the `tessera` binary's hidden `worker` subcommand).
        public var launcher: WorkerLauncher
        /// NVML for health and telemetry; nil or a library that does not load leaves the driver's view alone.
        public var nvmlPath: String?
        /// Whether the node pages (`--page-idle-after`): workers then allocate through virtual memory management
        /// where every GPU has it, so that a context's memory can leave the GPU and come back at the same addresses.
        public var paging: Bool

        public init(driverPath: String = CUDADriver.defaultPath, selection: [Int]? = nil, launcher: WorkerLauncher,
                    nvmlPath: String? = NVML.defaultPath, paging: Bool = false) {
            self.driverPath = driverPath; self.selection = selection; self.launcher = launcher; self.nvmlPath = nvmlPath
            self.paging = paging
        }
    }

    public let gpus: [PhysicalGPU]
    /// What the probe found for each of the node's GPUs (PCI address, context overhead), in node order.
    public let probed: [ProbedGPU]
    /// The driver's version (e.g. 13000).
    public let driverVersion: Int
    public let nvml: NVML?
    /// Whether workers allocate through virtual memory management, so contexts page (see ``Configuration/paging``).
    public let supportsPaging: Bool
    /// Each session's worker maps the program's shared memory itself, from the file.
    public var mapsHostMemoryFromFile: Bool { true }
    let configuration: Configuration
    let schedulers: [GPUTimeScheduler]
    let logger: Logger
    private let live = Mutex<[Int: [Weak]]>([:])
    private struct Weak { weak var context: WorkerContext? }

    /// Probes the driver through a worker; throws one clear line when there is no driver or no such GPU.
    public init(configuration: Configuration, logger: Logger) throws(DeviceError) {
        self.configuration = configuration
        self.logger = logger
        var inventory: WorkerInventory?
        let probe = try WorkerProcess.start(configuration.launcher, arguments: Self.workerArguments(configuration, probe: true),
                                            environment: [:]) { (r) throws(WireError) in inventory = try WorkerInventory(from: &r) }
        probe.terminate()
        guard let inventory else { throw DeviceError(.internalError, "the GPU probe answered nothing") }
        let chosen: [Int]
        if let selection = configuration.selection {
            for i in selection where !inventory.gpus.indices.contains(i) {
                throw DeviceError(.invalidDevice, "--gpus: no GPU \(i) (the driver shows \(inventory.gpus.count))")
            }
            chosen = selection
        } else {
            chosen = Array(inventory.gpus.indices)
        }
        guard !chosen.isEmpty else { throw DeviceError(.unavailable, "the CUDA driver shows no GPU") }
        driverVersion = inventory.driverVersion
        probed = chosen.map { inventory.gpus[$0] }
        gpus = probed.enumerated().map { index, p in
            var template = p.info
            template.physicalIndex = index
            return PhysicalGPU(index: index, name: p.info.name, totalMemory: p.info.totalMemory, uuid: p.info.uuid,
                               template: template, simulated: Self.isTesseraSimulated(p.info.uuid), contextOverhead: p.contextOverhead)
        }
        schedulers = gpus.map { _ in GPUTimeScheduler() }
        let lacking = probed.enumerated().filter { $0.element.virtualMemoryGranularity == 0 }.map(\.offset)
        supportsPaging = configuration.paging && lacking.isEmpty
        if configuration.paging && !lacking.isEmpty {
            logger.warning("paging is off: the CUDA driver lacks virtual memory management (CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED) on GPU \(lacking.map(String.init).joined(separator: ", ")); allocations use cuMemAlloc and stay resident")
        }
        nvml = configuration.nvmlPath.flatMap { NVML(path: $0) }
        for (i, p) in probed.enumerated() {
            nvml?.watch(p.pciAddress)
            var metadata: Logger.Metadata = [
                "gpu": "\(i)", "name": "\(p.info.name)", "uuid": "\(Self.uuidString(p.info.uuid))", "pci": "\(p.pciAddress)",
                "memory": "\(p.info.totalMemory >> 20) MiB", "context_overhead": "\(p.contextOverhead >> 20) MiB (\(p.contextOverhead) bytes)",
                "vmm_granularity": "\(p.virtualMemoryGranularity == 0 ? "none" : "\(p.virtualMemoryGranularity >> 10) KiB")",
            ]
            if let t = nvml?.telemetry(pciAddress: p.pciAddress) {
                metadata["temperature"] = "\(t.temperatureC) °C"
                metadata["power"] = "\(t.powerMilliwatts / 1000) W"
            }
            logger.info("CUDA GPU", metadata: metadata)
        }
    }

    /// Whether a GPU the driver shows is one of Tessera's simulated GPUs, served through Tessera's own
    /// `libcuda.so.1` (stacking): the simulator gives its GPUs UUIDs that start with "TSRA". Such a GPU runs PTX
    /// only, so the node reports it simulated and `tessera run` makes CuPy and numba-cuda hand it PTX.
    static func isTesseraSimulated(_ uuid: [UInt8]) -> Bool { uuid.starts(with: [0x54, 0x53, 0x52, 0x41]) }

    static func workerArguments(_ c: Configuration, probe: Bool, virtualMemory: Bool = false) -> [String] {
        ["--cuda-driver", c.driverPath] + (probe ? ["--probe"] : ["--ordinal", "0"]) + (virtualMemory ? ["--virtual-memory"] : [])
    }

    /// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as CUDA_VISIBLE_DEVICES and nvidia-smi spell a UUID.
    public static func uuidString(_ uuid: [UInt8]) -> String {
        let hex = uuid.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }
        guard hex.count == 16 else { return "GPU-unknown" }
        return "GPU-" + [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }

    public func memoryUsed(gpu: Int) -> Int {
        // Device memory held: granularity rounding included, paged-out contexts excluded.
        live.withLock { $0[gpu]?.compactMap(\.context).reduce(0) { $0 + $1.residentBytes } ?? 0 }
    }

    public func isHealthy(gpu index: Int) -> Bool {
        guard probed.indices.contains(index), let nvml else { return true }
        return nvml.isHealthy(pciAddress: probed[index].pciAddress)
    }

    public func makeContext(gpu: Int, memoryLimit: Int, computePercent: Int, computeMode: ComputeMode,
                            addressWindow: Int) throws(DeviceError) -> any DeviceContext {
        guard gpus.indices.contains(gpu) else { throw DeviceError(.invalidDevice, "no GPU \(gpu) on this node") }
        // The worker sees its one GPU as device 0. A Tessera driver underneath (stacking) ignores
        // CUDA_VISIBLE_DEVICES and asks its own node for one vGPU of this session's size instead. It asks for the
        // session's share in share mode only: a real GPU has no limiter, so a limit is this node's scheduler's
        // alone (two limiters in series under-deliver).
        // With virtual memory management each allocation occupies its size rounded up to the granularity: the
        // quota (this node's accounting, exact to the byte) no longer bounds the device memory a worker holds, so
        // a Tessera driver underneath is asked for the whole GPU and this node's admission counts the rounding.
        let granularity = supportsPaging ? probed[gpu].virtualMemoryGranularity : nil
        let mib = ((granularity != nil ? probed[gpu].info.totalMemory : memoryLimit) + (1 << 20) - 1) >> 20
        let environment = [
            "CUDA_VISIBLE_DEVICES": Self.uuidString(probed[gpu].info.uuid),
            VirtualGPUEnvironment.virtualGPUs: "1",
            VirtualGPUEnvironment.memory: "\(max(1, mib))MiB",
            VirtualGPUEnvironment.compute: "\(computePercent)",
            VirtualGPUEnvironment.computeMode: ComputeMode.share.description,
        ]
        let worker = try WorkerProcess.start(configuration.launcher,
                                             arguments: Self.workerArguments(configuration, probe: false, virtualMemory: granularity != nil),
                                             environment: environment)
        let scheduler = schedulers[gpu]
        let context = WorkerContext(worker: worker, memoryLimit: memoryLimit, scheduler: scheduler,
                                    ticket: scheduler.add(percent: computePercent, mode: computeMode), granularity: granularity,
                                    virtualMemoryGranularity: probed[gpu].virtualMemoryGranularity > 0 ? probed[gpu].virtualMemoryGranularity : nil)
        live.withLock { l in
            l[gpu, default: []].removeAll { $0.context == nil }
            l[gpu, default: []].append(Weak(context: context))
        }
        return context
    }
}
