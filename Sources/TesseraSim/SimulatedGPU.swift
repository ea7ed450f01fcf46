import Synchronization

/// One simulated GPU: device memory accounting and the contexts (sessions) that use it.
///
/// Device addresses are 64-bit values in a window reserved per GPU that lies outside every
/// host address space (non-canonical on x86-64 and AArch64), so a device pointer can never be
/// mistaken for a host pointer. Addresses are never reused, which turns use-after-free into an
/// illegal-address fault instead of silent corruption.
public final class SimulatedGPU: Sendable {
    /// What the device reports.
    public let properties: DeviceProperties
    /// Index of this GPU among the simulator's devices; selects its address window.
    public let ordinal: Int

    struct State {
        var usedBytes = 0
        var nextOffset: UInt64 = 0x20_0000  // leave the first 2 MiB unmapped, like a real GPU's null page
        var contexts = 0
    }
    let state = Mutex(State())
    /// Interprets kernels on the host's cores.
    let engine: ExecutionEngine
    /// Time-slices the device between contexts by their compute quotas.
    let scheduler = DeviceScheduler()

    /// Base of the device address window `window` of GPU `ordinal`. A program holding vGPUs on several nodes
    /// gives each node's session its own window, so the program's device pointers are unique across nodes.
    static func addressBase(ordinal: Int, window: Int = 0) -> UInt64 {
        AddressSpace.globalBase + (UInt64(window & maxAddressWindow) << 50) + (UInt64(ordinal & 63) << 44)
    }

    /// Windows are 0…63 (bits 50–55 of an address, above 64 GPUs of 16 TiB each).
    public static let maxAddressWindow = 63

    /// Whether work is time-sliced between contexts by their compute quotas. Off only to measure the
    /// scheduler's own cost: without it contexts' kernels contend freely and quotas are not enforced.
    public let schedulesCompute: Bool

    public init(properties: DeviceProperties = DeviceProperties(), ordinal: Int = 0, workerThreads: Int? = nil, schedulesCompute: Bool = true) {
        self.properties = properties
        self.ordinal = ordinal
        self.schedulesCompute = schedulesCompute
        self.engine = ExecutionEngine(workers: workerThreads ?? ExecutionEngine.defaultWorkerCount, clockRateKHz: properties.clockRateKHz)
    }

    /// Bytes of device memory allocated by all contexts together.
    public var memoryUsed: Int { state.withLock { $0.usedBytes } }

    /// Bytes of device memory not allocated by any context.
    public var memoryFree: Int { properties.totalMemory - memoryUsed }

    /// Creates a context: an isolated set of allocations, modules, streams and events, as one program sees the GPU.
    /// - Parameters:
    ///   - memoryLimit: the most bytes this context may hold at once (a vGPU's quota); `nil` for the whole device.
    ///   - compute: the context's share of the device's time.
    ///   - addressWindow: which window of device addresses the context allocates from (0…``maxAddressWindow``).
    public func makeContext(memoryLimit: Int? = nil, compute: ComputeQuota = .whole, addressWindow: Int = 0) -> SimContext {
        state.withLock { $0.contexts += 1 }
        let context = SimContext(device: self, memoryLimit: memoryLimit, addressWindow: min(max(addressWindow, 0), Self.maxAddressWindow))
        scheduler.register(ObjectIdentifier(context), quota: compute, announcements: context.announcements)
        return context
    }

    /// Reserves `size` bytes of device memory and an address range for them.
    func reserve(_ size: Int, window: Int = 0) throws(SimError) -> UInt64 {
        try state.withLock { (s) throws(SimError) -> UInt64 in
            guard s.usedBytes + size <= properties.totalMemory else {
                throw SimError(.outOfMemory, "device \(ordinal) has \(properties.totalMemory - s.usedBytes) bytes free, \(size) requested")
            }
            s.usedBytes += size
            let address = Self.addressBase(ordinal: ordinal, window: window) + s.nextOffset
            // 512-byte alignment (more than CUDA's guaranteed 256) plus a guard gap, so overruns fault.
            s.nextOffset += (UInt64(size) + 512 + 511) & ~511
            return address
        }
    }

    /// The granularity of virtual memory management (`cuMemGetAllocationGranularity`): physical memory comes in
    /// multiples of it and reservations are aligned to it. 2 MiB, as on current NVIDIA GPUs.
    public static let allocationGranularity = 2 << 20

    /// Reserves an address range of `size` bytes aligned to `alignment`, with no memory behind it
    /// (`cuMemAddressReserve`). `hint` is taken when it is aligned and not below the next free address.
    func reserveAddresses(_ size: Int, alignment: Int, hint: UInt64, window: Int = 0) -> UInt64 {
        state.withLock { s in
            let base = Self.addressBase(ordinal: ordinal, window: window)
            let a = UInt64(max(alignment, Self.allocationGranularity))
            var offset = (s.nextOffset + a - 1) / a * a
            if hint > base, hint % a == 0, hint - base >= offset, hint - base < (1 << 44) - UInt64(size) { offset = hint - base }
            // A guard gap of one granule after the range, so overruns fault.
            s.nextOffset = offset + UInt64(size) + a
            return base + offset
        }
    }

    /// Takes `size` bytes of device memory for allocations whose addresses already exist (a page-in).
    func claim(_ size: Int) throws(SimError) {
        try state.withLock { (s) throws(SimError) in
            guard s.usedBytes + size <= properties.totalMemory else {
                throw SimError(.outOfMemory, "device \(ordinal) has \(properties.totalMemory - s.usedBytes) bytes free, \(size) needed to page in")
            }
            s.usedBytes += size
        }
    }

    func release(_ size: Int) {
        state.withLock { $0.usedBytes -= size }
    }

    func contextDestroyed(_ context: SimContext) {
        scheduler.unregister(ObjectIdentifier(context))
        state.withLock { $0.contexts -= 1 }
    }
}
