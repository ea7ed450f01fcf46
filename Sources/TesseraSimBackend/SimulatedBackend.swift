import Dispatch
import Synchronization
import TesseraDevice
import TesseraSim
import TesseraWire

/// Runs device work on simulated GPUs (module TesseraSim).
public final class SimulatedBackend: DeviceBackend {
    public let devices: [SimulatedGPU]
    public let gpus: [PhysicalGPU]

    /// Creates `count` identical simulated GPUs.
    public init(count: Int, properties: DeviceProperties) {
        var devices: [SimulatedGPU] = []
        var gpus: [PhysicalGPU] = []
        for i in 0..<count {
            var p = properties
            p.pciBusID = properties.pciBusID + i
            let gpu = SimulatedGPU(properties: p, ordinal: i)
            devices.append(gpu)
            var uuid = [UInt8](repeating: 0, count: 16)
            // A stable, made-up UUID per simulated device: "TSRA" + ordinal. The CUDA backend recognises the prefix
            // when stacked over these GPUs (they run PTX only).
            uuid[0] = 0x54; uuid[1] = 0x53; uuid[2] = 0x52; uuid[3] = 0x41
            uuid[12] = UInt8(truncatingIfNeeded: i >> 24); uuid[13] = UInt8(truncatingIfNeeded: i >> 16)
            uuid[14] = UInt8(truncatingIfNeeded: i >> 8); uuid[15] = UInt8(truncatingIfNeeded: i)
            gpus.append(PhysicalGPU(index: i, name: p.name, totalMemory: p.totalMemory, uuid: uuid,
                                    template: Self.describe(p, uuid: uuid, index: i), simulated: true))
        }
        self.devices = devices
        self.gpus = gpus
    }

    static func describe(_ p: DeviceProperties, uuid: [UInt8], index: Int) -> VirtualDeviceInfo {
        VirtualDeviceInfo(
            name: p.name, uuid: uuid, totalMemory: p.totalMemory, computePercent: 100, physicalIndex: index,
            multiprocessorCount: p.multiprocessorCount, computeCapabilityMajor: p.computeCapabilityMajor,
            computeCapabilityMinor: p.computeCapabilityMinor, clockRateKHz: p.clockRateKHz,
            memoryClockRateKHz: p.memoryClockRateKHz, memoryBusWidth: p.memoryBusWidth, l2CacheSize: p.l2CacheSize,
            warpSize: p.warpSize, maxThreadsPerBlock: p.maxThreadsPerBlock,
            maxBlockDim: [p.maxBlockDimX, p.maxBlockDimY, p.maxBlockDimZ],
            maxGridDim: [p.maxGridDimX, p.maxGridDimY, p.maxGridDimZ],
            sharedMemoryPerBlock: p.sharedMemoryPerBlock, sharedMemoryPerBlockOptin: p.sharedMemoryPerBlockOptin,
            sharedMemoryPerMultiprocessor: p.sharedMemoryPerMultiprocessor, registersPerBlock: p.registersPerBlock,
            registersPerMultiprocessor: p.registersPerMultiprocessor,
            maxThreadsPerMultiprocessor: p.maxThreadsPerMultiprocessor,
            maxBlocksPerMultiprocessor: p.maxBlocksPerMultiprocessor, totalConstantMemory: p.totalConstantMemory,
            textureAlignment: p.textureAlignment, memoryPitch: p.memoryPitch, pciBusID: p.pciBusID
        )
    }

    public func memoryUsed(gpu: Int) -> Int { devices[gpu].memoryUsed }

    /// Simulated device memory pages out to any store and back at the same addresses.
    public var supportsPaging: Bool { true }

    public func makeContext(gpu: Int, memoryLimit: Int, computePercent: Int, computeMode: ComputeMode, addressWindow: Int) throws(DeviceError) -> any DeviceContext {
        guard devices.indices.contains(gpu) else { throw DeviceError(.invalidDevice, "no GPU \(gpu) on this node") }
        let quota = ComputeQuota(percent: computePercent, mode: computeMode == .limit ? .limit : .share)
        return SimulatedContext(devices[gpu].makeContext(memoryLimit: memoryLimit, compute: quota, addressWindow: addressWindow))
    }
}

extension DeviceError {
    /// The one place simulator errors become device errors.
    init(_ e: SimError) {
        let code: ReplyStatus.Code = switch e.code {
        case .invalidValue: .invalidValue
        case .outOfMemory: .outOfMemory
        case .illegalAddress: .illegalAddress
        case .launchFailure: .launchFailure
        case .invalidConfiguration: .invalidConfiguration
        case .invalidImage: .invalidImage
        case .noKernelImage: .noKernelImage
        case .notSupported: .notSupported
        case .notFound: .notFound
        case .invalidHandle: .invalidHandle
        case .notReady: .notReady
        case .assertFailed: .assertFailed
        case .cooperativeLaunchTooLarge: .cooperativeLaunchTooLarge
        default: .internalError
        }
        self.init(code, e.message)
    }
}

final class SimulatedStream: DeviceStream {
    let stream: SimStream
    init(_ s: SimStream) { stream = s }
    var isIdle: Bool { stream.isIdle }
}

final class SimulatedEvent: DeviceEvent {
    let event: SimEvent
    init(_ e: SimEvent) { event = e }
    var isComplete: Bool { event.isComplete }
    func synchronize() { event.synchronize() }
}

final class SimulatedKernel: DeviceKernel {
    let kernel: SimKernel
    let info: KernelInfo
    init(_ k: SimKernel) {
        kernel = k
        let a = k.attributes
        info = KernelInfo(
            name: k.name, parameters: k.parameters.map { .init(offset: $0.offset, size: $0.size) },
            staticSharedBytes: a.staticSharedBytes, localBytesPerThread: a.localBytesPerThread,
            constantBytes: a.constantBytes, registersPerThread: a.registersPerThread,
            maxThreadsPerBlock: a.maxThreadsPerBlock, ptxVersion: a.ptxVersion, binaryVersion: a.binaryVersion)
    }
}

final class SimulatedModule: DeviceModule {
    let module: SimModule
    let kernels: [any DeviceKernel]
    let variables: [VariableInfo]
    init(_ m: SimModule) {
        module = m
        kernels = m.kernels.values.sorted { $0.name < $1.name }.map { SimulatedKernel($0) }
        variables = m.variables.values.sorted { $0.name < $1.name }.map { VariableInfo(name: $0.name, address: $0.address, size: $0.size) }
    }
}

final class SimulatedContext: DeviceContext {
    let context: SimContext
    let defaultStream: any DeviceStream
    /// Where the paged-out allocations wait, by device address (empty while resident), and whether the context
    /// was destroyed (a page-out finishing after that discards its copies at once).
    struct Paged {
        var store: (any PageStore)?
        var tickets: [UInt64: PageTicket] = [:]
        var destroyed = false
    }
    let paged = Mutex(Paged())

    init(_ c: SimContext) {
        context = c
        defaultStream = SimulatedStream(c.defaultStream)
    }

    var memoryInfo: (free: Int, total: Int) { context.memoryInfo }
    var memoryUsed: Int { context.memoryUsed }
    var utilization: Double { context.utilization }
    var busyNanoseconds: UInt64 { context.deviceBusyNanoseconds }
    var stickyError: DeviceError? { context.stickyError.map(DeviceError.init) }

    private func sim(_ s: any DeviceStream) throws(DeviceError) -> SimStream {
        guard let s = s as? SimulatedStream else { throw DeviceError(.invalidHandle, "foreign stream") }
        return s.stream
    }
    private func sim(_ e: any DeviceEvent) throws(DeviceError) -> SimEvent {
        guard let e = e as? SimulatedEvent else { throw DeviceError(.invalidHandle, "foreign event") }
        return e.event
    }

    /// Runs a simulator call, turning its error into a device error.
    @inline(__always)
    private func run<T>(_ body: () throws(SimError) -> T) throws(DeviceError) -> T {
        do { return try body() } catch { throw DeviceError(error) }
    }

    func allocate(_ size: Int) throws(DeviceError) -> UInt64 { try run { () throws(SimError) in try context.allocate(size) } }
    func free(_ address: UInt64) throws(DeviceError) { try run { () throws(SimError) in try context.free(address) } }

    func copyToDevice(_ destination: UInt64, from source: UnsafeRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.copyToDevice(destination, from: source, count: count, on: s) }
    }
    func copyFromDevice(_ source: UInt64, to destination: UnsafeMutableRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.copyFromDevice(source, to: destination, count: count, on: s) }
    }
    func copyOnDevice(_ destination: UInt64, from source: UInt64, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.copyOnDevice(destination, from: source, count: count, on: s) }
    }
    func copy2DOnDevice(_ destination: UInt64, pitch dpitch: Int, from source: UInt64, pitch spitch: Int, width: Int, height: Int, on stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in
            try context.copy2DOnDevice(destination, pitch: dpitch, from: source, pitch: spitch, width: width, height: height, on: s)
        }
    }
    func memset(_ destination: UInt64, value: UInt8, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.memset(destination, value: value, count: count, on: s) }
    }

    func makeStream(nonBlocking: Bool, priority: Int) -> any DeviceStream {
        SimulatedStream(context.makeStream(nonBlocking: nonBlocking, priority: priority))
    }
    func destroyStream(_ stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.destroyStream(s) }
    }
    func makeEvent(timingDisabled: Bool) -> any DeviceEvent { SimulatedEvent(context.makeEvent(timingDisabled: timingDisabled)) }
    func record(_ event: any DeviceEvent, on stream: any DeviceStream) throws(DeviceError) {
        let e = try sim(event), s = try sim(stream)
        try run { () throws(SimError) in try context.record(e, on: s) }
    }
    func wait(_ stream: any DeviceStream, for event: any DeviceEvent) throws(DeviceError) {
        let e = try sim(event), s = try sim(stream)
        try run { () throws(SimError) in try context.wait(s, for: e) }
    }
    func elapsedMilliseconds(from start: any DeviceEvent, to end: any DeviceEvent) throws(DeviceError) -> Float {
        let a = try sim(start), b = try sim(end)
        return try run { () throws(SimError) in try SimEvent.elapsedMilliseconds(from: a, to: b) }
    }
    func synchronize(_ stream: any DeviceStream) throws(DeviceError) {
        let s = try sim(stream)
        try run { () throws(SimError) in try context.synchronize(s) }
    }
    func synchronize() throws(DeviceError) { try run { () throws(SimError) in try context.synchronize() } }

    func loadModule(image: UnsafeRawBufferPointer) throws(DeviceError) -> any DeviceModule {
        SimulatedModule(try run { () throws(SimError) in try context.loadModule(image: image) })
    }

    func launch(_ kernel: any DeviceKernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32),
                sharedMemoryBytes: Int, parameters: [UInt8], cooperative: Bool, on stream: any DeviceStream) throws(DeviceError) {
        guard let k = kernel as? SimulatedKernel else { throw DeviceError(.invalidHandle, "foreign kernel") }
        let s = try sim(stream)
        try run { () throws(SimError) in
            try context.launch(k.kernel, grid: Dim3(grid.0, grid.1, grid.2), block: Dim3(block.0, block.1, block.2),
                               sharedMemoryBytes: sharedMemoryBytes, parameters: parameters, on: s, cooperative: cooperative)
        }
    }

    func takeDeviceOutput() -> DeviceOutputChunks {
        DeviceOutputChunks(printf: context.takePrintfOutput(), assertMessages: context.takeAssertOutput())
    }

    func mapHostMemory(_ memory: SharedHostMemory, at address: UInt64) throws(DeviceError) {
        try run { () throws(SimError) in try context.mapHostMemory(memory.storage, count: memory.count, at: address) }
    }

    func unmapHostMemory(at address: UInt64) { context.unmapHostMemory(at: address) }

    func virtualMemory(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64 {
        try run { () throws(SimError) -> UInt64 in
            switch operation {
            case .granularity: return UInt64(context.allocationGranularity)
            case let .reserve(size, alignment, hint): return try context.reserveAddresses(size, alignment: alignment, hint: hint)
            case let .free(address, size): try context.freeAddresses(address, size: size)
            case let .create(size): return try context.createPhysical(size)
            case let .release(handle): try context.releasePhysical(handle)
            case let .map(address, size, offset, handle): try context.map(address, size: size, offset: offset, handle: handle)
            case let .unmap(address, size): try context.unmap(address, size: size)
            case let .setAccess(address, size, flags): try context.setAccess(address, size: size, flags: flags)
            case let .getAccess(address): return UInt64(try context.access(at: address))
            case let .retain(address): return try context.retainPhysical(at: address)
            }
            return 0
        }
    }

    func setLimit(_ limit: UInt32, value: Int) throws(DeviceError) {
        guard value >= 0 else { throw DeviceError(.invalidValue, "limit \(limit) cannot be negative") }
        switch limit {
        case SetLimit.stackSize: context.stackSize = value
        case SetLimit.printfFifoSize: context.printfFifoSize = value
        default: break  // heap size, L2 hints: nothing the simulator models
        }
    }

    func destroy() {
        context.destroy()
        let (store, tickets) = paged.withLock { p in
            defer { p = Paged(destroyed: true) }
            return (p.store, p.tickets)
        }
        for t in tickets.values { store?.discard(t) }
    }

    // MARK: Paging

    var isPagedOut: Bool { context.isPagedOut }
    var residentBytes: Int { context.residentBytes }
    var hasWorkInFlight: Bool { context.hasWorkInFlight }

    func pageOut(to store: any PageStore) throws(DeviceError) -> PagingTransfer {
        let start = DispatchTime.now().uptimeNanoseconds
        var saved: [UInt64: PageTicket] = [:]
        do {
            let bytes = try context.pageOut { address, bytes in saved[address] = try store.store(bytes) }
            let kept = paged.withLock { p -> Bool in
                guard !p.destroyed else { return false }
                p.store = store
                p.tickets = saved
                return true
            }
            if !kept { for t in saved.values { store.discard(t) } }
            return PagingTransfer(bytes: bytes, nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        } catch {
            for t in saved.values { store.discard(t) }
            throw Self.deviceError(error)
        }
    }

    func pageIn() throws(DeviceError) -> PagingTransfer {
        let start = DispatchTime.now().uptimeNanoseconds
        let (store, tickets) = paged.withLock { ($0.store, $0.tickets) }
        guard let store else { return PagingTransfer(bytes: 0, nanoseconds: 0) }
        do {
            let bytes = try context.pageIn { address, destination in
                guard let t = tickets[address] else { throw DeviceError(.internalError, "no paged copy of 0x\(String(address, radix: 16))") }
                try store.load(t, into: destination)
            }
            paged.withLock { p in
                p.store = nil
                p.tickets = [:]
            }
            for t in tickets.values { store.discard(t) }
            return PagingTransfer(bytes: bytes, nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        } catch {
            throw Self.deviceError(error)
        }
    }

    private static func deviceError(_ error: any Error) -> DeviceError {
        if let e = error as? DeviceError { return e }
        if let e = error as? SimError { return DeviceError(e) }
        return DeviceError(.internalError, "\(error)")
    }
}
