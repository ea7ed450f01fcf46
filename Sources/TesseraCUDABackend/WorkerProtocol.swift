import TesseraWire

/// The node ↔ worker link: the runtime ↔ node frames and messages of TesseraWire, with `device` always 0 (a
/// worker serves one GPU) and stream/event/module handles the worker's own. Every request expects a reply; the
/// node is the worker's only peer and is trusted. Two replies carry more than the client protocol's:
/// - a launch's reply ends with a ``WorkerUsage`` (device time measured with CUDA events, work in flight);
/// - ``Opcode/nodeStatus`` asks the worker for its ``WorkerUsage`` alone (the scheduler polls it).
/// The worker's first frame is a reply whose status says whether it got its context; a probing worker's first
/// frame is its ``WorkerInventory`` instead.
public enum WorkerProtocol {
    /// The descriptor a worker finds its end of the socketpair on.
    public static let descriptor: Int32 = 3
}

/// Node → worker only, with ``WorkerServer`` allocating through virtual memory management: gives the physical
/// memory of the allocation at `address` back (after the work queued so far) and keeps its addresses (a page-out,
/// once the node has copied the bytes), or takes memory again and maps it there (a page-in, before the node
/// copies them back). Reply: empty.
struct EvictAllocation: WireMessage, Hashable {
    static let opcode = Opcode.evictAllocation
    var address: UInt64
    func encode(into w: inout WireWriter) { w.u64(address) }
    init(address: UInt64) { self.address = address }
    init(from r: inout WireReader) throws(WireError) { address = try r.u64() }
}

struct RestoreAllocation: WireMessage, Hashable {
    static let opcode = Opcode.restoreAllocation
    var address: UInt64
    func encode(into w: inout WireWriter) { w.u64(address) }
    init(address: UInt64) { self.address = address }
    init(from r: inout WireReader) throws(WireError) { address = try r.u64() }
}

/// What a worker's device has done: the scheduler charges `busyNanoseconds` and throttles on `inFlight`.
struct WorkerUsage: Sendable, Hashable {
    /// Device time of this worker's completed launches (CUDA events around each), in nanoseconds.
    var busyNanoseconds: UInt64
    /// Launches submitted and not yet completed.
    var inFlight: Int
    /// Mean device time of a completed launch, in nanoseconds (0 before the first).
    var meanLaunchNanoseconds: UInt64

    func encode(into w: inout WireWriter) { w.u64(busyNanoseconds); w.size(inFlight); w.u64(meanLaunchNanoseconds) }
    init(busyNanoseconds: UInt64, inFlight: Int, meanLaunchNanoseconds: UInt64) {
        self.busyNanoseconds = busyNanoseconds; self.inFlight = inFlight; self.meanLaunchNanoseconds = meanLaunchNanoseconds
    }
    init(from r: inout WireReader) throws(WireError) {
        busyNanoseconds = try r.u64(); inFlight = try r.size(max: 1 << 30); meanLaunchNanoseconds = try r.u64()
    }
}

/// One GPU as a probing worker found it.
public struct ProbedGPU: Sendable, Hashable {
    /// The device's properties (name, UUID, memory, attributes, PCI bus).
    public var info: VirtualDeviceInfo
    /// `domain:bus:device.function`, as NVML and `nvidia-smi` name it.
    public var pciAddress: String
    /// Device memory one context costs: free memory with one context minus free memory with two.
    public var contextOverhead: Int
    /// The granularity of virtual memory management (`cuMemGetAllocationGranularity`), or 0 when the driver or
    /// the device lacks it (`CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED`): then no paging.
    public var virtualMemoryGranularity: Int

    func encode(into w: inout WireWriter) {
        info.encode(into: &w); w.string(pciAddress); w.size(contextOverhead); w.size(virtualMemoryGranularity)
    }
    init(info: VirtualDeviceInfo, pciAddress: String, contextOverhead: Int, virtualMemoryGranularity: Int) {
        self.info = info; self.pciAddress = pciAddress; self.contextOverhead = contextOverhead
        self.virtualMemoryGranularity = virtualMemoryGranularity
    }
    init(from r: inout WireReader) throws(WireError) {
        info = try VirtualDeviceInfo(from: &r); pciAddress = try r.string(); contextOverhead = try r.size(max: 1 << 44)
        virtualMemoryGranularity = try r.size(max: 1 << 40)
    }
}

/// A probing worker's answer: the driver's version and its GPUs.
struct WorkerInventory: Sendable, Hashable {
    var driverVersion: Int
    var gpus: [ProbedGPU]

    func encode(into w: inout WireWriter) {
        w.size(driverVersion)
        w.u32(UInt32(gpus.count))
        for g in gpus { g.encode(into: &w) }
    }
    init(driverVersion: Int, gpus: [ProbedGPU]) { self.driverVersion = driverVersion; self.gpus = gpus }
    init(from r: inout WireReader) throws(WireError) {
        driverVersion = try r.size(max: 1 << 30)
        let n = Int(try r.u32())
        guard n <= 1024 else { throw WireError(.malformed, "\(n) GPUs") }
        gpus = []
        for _ in 0..<n { gpus.append(try ProbedGPU(from: &r)) }
    }
}
