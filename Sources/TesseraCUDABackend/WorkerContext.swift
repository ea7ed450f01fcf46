#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TesseraDevice
import TesseraWire

/// A session's context on a real GPU: the node-side face of the session's worker process. Every allocation
/// passes the node's accounting first (quotas exact to the byte; `memoryInfo` shows the vGPU), every launch
/// waits for the GPU's scheduler and is then pipelined to the worker, and everything else is forwarded to the
/// worker as one synchronous request.
///
/// Host memory named by a queued copy is read (or written) before the call returns: the bytes travel in the
/// request (or its reply), so the session may reuse them at once. Copies between a device and host memory the
/// worker maps too (``shareHostMemory(_:)``, mapped host memory) name the region instead and are queued in the
/// worker's stream order, as on the GPU.
final class WorkerContext: DeviceContext, @unchecked Sendable {
    let worker: WorkerProcess
    let memoryLimit: Int
    let scheduler: GPUTimeScheduler
    let ticket: Int
    private(set) var defaultStream: any DeviceStream = WorkerStream(handle: 0)
    /// The GPU's virtual-memory granularity when the worker allocates through virtual memory management (a
    /// paging node): each allocation then occupies its size rounded up to it. Nil: plain `cuMemAlloc`.
    let granularity: Int?

    struct State {
        var allocations: [UInt64: Int] = [:]
        /// Requested bytes: what the quota counts, exact to the byte.
        var used = 0
        /// Device memory the allocations occupy (rounded up to the granularity), while resident.
        var physical = 0
        /// Paged out: the allocations' bytes are in `store` (chunks by address), their device memory is given back.
        var pagedOut = false
        var store: (any PageStore)?
        var tickets: [UInt64: [PageTicket]] = [:]
        /// Memory the program made itself with `cuMemCreate` (by handle), and where it mapped it (by address).
        var programMemory: [UInt64: ProgramMemory] = [:]
        var programMappings: [UInt64: (size: Int, handle: UInt64)] = [:]
        /// Host memory the worker maps too, so copies name it by region (WorkerContext+HostMemory.swift).
        var hostRegions: [HostRegionShare] = []
        var nextRegion: UInt64 = 1
        var sticky: DeviceError?
        var destroyed = false
        var lastSample: (time: UInt64, busy: UInt64) = (0, 0)
        var utilization = 0.0
    }
    let state = Mutex(State())

    /// The GPU's virtual-memory granularity when its driver has virtual memory management (for the program's
    /// own `cuMemCreate`/`cuMemMap` calls), whether or not the node pages.
    let virtualMemoryGranularity: Int?

    init(worker: WorkerProcess, memoryLimit: Int, scheduler: GPUTimeScheduler, ticket: Int, granularity: Int? = nil,
         virtualMemoryGranularity: Int? = nil) {
        self.worker = worker
        self.granularity = granularity
        self.virtualMemoryGranularity = virtualMemoryGranularity
        self.memoryLimit = memoryLimit
        self.scheduler = scheduler
        self.ticket = ticket
        (defaultStream as! WorkerStream).context = self
    }

    deinit { destroy() }

    // MARK: Accounting

    var memoryInfo: (free: Int, total: Int) { state.withLock { (memoryLimit - $0.used, memoryLimit) } }
    var memoryUsed: Int { state.withLock { $0.used } }
    var busyNanoseconds: UInt64 { scheduler.charged(ticket) }
    var utilization: Double {
        let busy = busyNanoseconds, now = GPUTimeScheduler.now()
        return state.withLock { s in
            // Sampled when asked (status polls): the share of wall time since the previous sample, once that is
            // at least a quarter of a second old.
            if now - s.lastSample.time >= 250_000_000 {
                if s.lastSample.time != 0 {
                    s.utilization = min(1, Double(busy - min(busy, s.lastSample.busy)) / Double(now - s.lastSample.time))
                }
                s.lastSample = (now, busy)
            }
            return s.utilization
        }
    }
    var stickyError: DeviceError? { state.withLock { $0.sticky } ?? worker.failure }

    /// What the worker's driver printed for the session's kernels (device `printf`), up to now.
    func takeDeviceOutput() -> DeviceOutputChunks { DeviceOutputChunks(printf: worker.output.take()) }

    /// Forwards one request; a sticky failure (fault, dead worker) poisons the context from then on.
    @discardableResult
    func forward<T>(_ body: () throws(DeviceError) -> T) throws(DeviceError) -> T {
        if let sticky = stickyError { throw sticky }
        do throws(DeviceError) {
            return try body()
        } catch {
            if error.code.isSticky { state.withLock { if $0.sticky == nil { $0.sticky = error } } }
            throw error
        }
    }

    private func handle(_ s: any DeviceStream) throws(DeviceError) -> UInt64 {
        guard let s = s as? WorkerStream, s.context === self || s.handle == 0 else { throw DeviceError(.invalidHandle, "foreign stream") }
        return s.handle
    }

    private func handle(_ e: any DeviceEvent) throws(DeviceError) -> UInt64 {
        guard let e = e as? WorkerEvent, e.context === self else { throw DeviceError(.invalidHandle, "foreign event") }
        return e.handle
    }

    // MARK: Memory

    func allocate(_ size: Int) throws(DeviceError) -> UInt64 {
        guard size >= 0 else { throw DeviceError(.invalidValue, "negative allocation size") }
        try state.withLock { (s) throws(DeviceError) in
            guard s.used + size <= memoryLimit else {
                throw DeviceError(.outOfMemory, "allocating \(size) bytes exceeds the vGPU's \(memoryLimit) bytes (\(s.used) in use)")
            }
            s.used += size
        }
        do throws(DeviceError) {
            let address = try forward { () throws(DeviceError) in
                try worker.call(.allocate, { Allocate(device: 0, size: size).encode(into: &$0) }, reply: { (r) throws(WireError) in try AddressReply(from: &r).address })
            }
            state.withLock {
                $0.allocations[address] = size
                $0.physical += deviceBytes(forAllocationOf: size)
            }
            return address
        } catch {
            state.withLock { $0.used -= size }
            throw error
        }
    }

    func free(_ address: UInt64) throws(DeviceError) {
        if address == 0 { return }
        guard state.withLock({ $0.allocations[address] != nil }) else {
            throw DeviceError(.invalidValue, "0x\(String(address, radix: 16)) is not an allocation of this vGPU")
        }
        try forward { () throws(DeviceError) in try worker.call(Free(device: 0, address: address)) }
        state.withLock { s in
            if let size = s.allocations.removeValue(forKey: address) {
                s.used -= size
                s.physical -= deviceBytes(forAllocationOf: size)
            }
        }
    }

    func copyToDevice(_ destination: UInt64, from source: UnsafeRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        if let region = sharedLocation(of: source, count: count) {
            return try forward { () throws(DeviceError) in
                try worker.call(CopyToDevice(device: 0, stream: h, destination: destination, count: count, source: region))
            }
        }
        var done = 0
        repeat {
            let n = min(count - done, WireProtocol.maxInlineChunk)
            try forward { () throws(DeviceError) in
                try worker.call(CopyToDevice(device: 0, stream: h, destination: destination &+ UInt64(done), count: n, source: .inline),
                                payload: UnsafeRawBufferPointer(start: source + done, count: n))
            }
            done += n
        } while done < count
    }

    func copyFromDevice(_ source: UInt64, to destination: UnsafeMutableRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        if let region = sharedLocation(of: destination, count: count) {
            return try forward { () throws(DeviceError) in
                try worker.call(CopyFromDevice(device: 0, stream: h, source: source, count: count, destination: region))
            }
        }
        var done = 0
        repeat {
            let n = min(count - done, WireProtocol.maxInlineChunk)
            try forward { () throws(DeviceError) in
                try worker.call(.copyFromDevice, {
                    CopyFromDevice(device: 0, stream: h, source: source &+ UInt64(done), count: n, destination: .inline).encode(into: &$0)
                }, reply: { (r) throws(WireError) in
                    let data = r.rest()
                    guard data.count == n else { throw WireError(.malformed, "copy returned \(data.count) of \(n) bytes") }
                    if n > 0 { (destination + done).copyMemory(from: data.baseAddress!, byteCount: n) }
                })
            }
            done += n
        } while done < count
    }

    func copyOnDevice(_ destination: UInt64, from source: UInt64, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        try forward { () throws(DeviceError) in
            try worker.call(CopyOnDevice(device: 0, stream: h, destination: destination, source: source, count: count))
        }
    }

    func copy2DOnDevice(_ destination: UInt64, pitch dpitch: Int, from source: UInt64, pitch spitch: Int, width: Int, height: Int,
                        on stream: any DeviceStream) throws(DeviceError) {
        guard dpitch >= width, spitch >= width else { throw DeviceError(.invalidValue, "pitch is smaller than width") }
        for row in 0..<height {
            try copyOnDevice(destination &+ UInt64(row * dpitch), from: source &+ UInt64(row * spitch), count: width, on: stream)
        }
    }

    func memset(_ destination: UInt64, value: UInt8, count: Int, on stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        try forward { () throws(DeviceError) in
            try worker.call(Memset(device: 0, stream: h, destination: destination, value: value, count: count))
        }
    }

    // MARK: Streams and events

    /// A handle no worker gives out: calls on a stream or event the worker could not create fail there.
    static let brokenHandle = UInt64.max

    func makeStream(nonBlocking: Bool, priority: Int) -> any DeviceStream {
        let h = (try? forward { () throws(DeviceError) in
            try worker.call(.createStream, {
                CreateStream(device: 0, flags: nonBlocking ? 1 : 0, priority: Int32(clamping: priority)).encode(into: &$0)
            }, reply: { (r) throws(WireError) in try HandleReply(from: &r).handle })
        }) ?? Self.brokenHandle
        let s = WorkerStream(handle: h)
        s.context = self
        return s
    }

    func destroyStream(_ stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        guard h != 0 else { throw DeviceError(.invalidHandle, "the default stream cannot be destroyed") }
        try forward { () throws(DeviceError) in try worker.call(DestroyStream(handle: h)) }
    }

    func makeEvent(timingDisabled: Bool) -> any DeviceEvent {
        let h = (try? forward { () throws(DeviceError) in
            try worker.call(.createEvent, { CreateEvent(device: 0, flags: timingDisabled ? 2 : 0).encode(into: &$0) },
                            reply: { (r) throws(WireError) in try HandleReply(from: &r).handle })
        }) ?? Self.brokenHandle
        return WorkerEvent(handle: h, context: self)
    }

    func record(_ event: any DeviceEvent, on stream: any DeviceStream) throws(DeviceError) {
        let e = try handle(event), s = try handle(stream)
        try forward { () throws(DeviceError) in try worker.call(RecordEvent(device: 0, event: e, stream: s)) }
    }

    func wait(_ stream: any DeviceStream, for event: any DeviceEvent) throws(DeviceError) {
        let e = try handle(event), s = try handle(stream)
        try forward { () throws(DeviceError) in try worker.call(StreamWaitEvent(device: 0, stream: s, event: e)) }
    }

    func elapsedMilliseconds(from start: any DeviceEvent, to end: any DeviceEvent) throws(DeviceError) -> Float {
        let a = try handle(start), b = try handle(end)
        return try forward { () throws(DeviceError) in
            try worker.call(.eventElapsedTime, { EventElapsedTime(start: a, end: b).encode(into: &$0) },
                            reply: { (r) throws(WireError) in try ElapsedTimeReply(from: &r).milliseconds })
        }
    }

    func synchronize(_ stream: any DeviceStream) throws(DeviceError) {
        let h = try handle(stream)
        try forward { () throws(DeviceError) in try worker.call(SynchronizeStream(device: 0, stream: h)) }
    }

    func synchronize() throws(DeviceError) {
        try forward { () throws(DeviceError) in try worker.call(SynchronizeDevice(device: 0)) }
    }

    /// Whether the work queued on `handle` (a stream, or an event with `event`) has finished; failures count as
    /// finished (the next synchronising call reports them).
    func query(stream handle: UInt64) -> Bool {
        do throws(DeviceError) {
            try forward { () throws(DeviceError) in try worker.call(QueryStream(device: 0, stream: handle)) }
            return true
        } catch {
            return error.code != .notReady
        }
    }

    func query(event handle: UInt64) -> Bool {
        do throws(DeviceError) {
            try forward { () throws(DeviceError) in try worker.call(QueryEvent(handle: handle)) }
            return true
        } catch {
            return error.code != .notReady
        }
    }

    func synchronize(event handle: UInt64) {
        try? forward { () throws(DeviceError) in try worker.call(SynchronizeEvent(handle: handle)) }
    }

    func release(event handle: UInt64) {
        guard handle != Self.brokenHandle, !state.withLock({ $0.destroyed }) else { return }
        try? worker.call(DestroyEvent(handle: handle))
    }

    // MARK: Code

    func loadModule(image: UnsafeRawBufferPointer) throws(DeviceError) -> any DeviceModule {
        let reply = try forward { () throws(DeviceError) in
            try worker.call(.loadModule, { w in
                LoadModule(device: 0).encode(into: &w)
                w.raw(image)
            }, reply: { (r) throws(WireError) in try LoadModuleReply(from: &r) })
        }
        return WorkerModule(reply)
    }

    func launch(_ kernel: any DeviceKernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32),
                sharedMemoryBytes: Int, parameters: [UInt8], cooperative: Bool, on stream: any DeviceStream) throws(DeviceError) {
        guard let k = kernel as? WorkerKernel else { throw DeviceError(.invalidHandle, "foreign kernel") }
        let h = try handle(stream)
        try forward { () throws(DeviceError) in
            // The GPU's scheduler decides when this session's next launch goes; usage is refreshed while waiting.
            while let pause = scheduler.admission(ticket) {
                usleep(pause)
                try refreshUsage()
            }
            let message = LaunchKernel(device: 0, module: k.module, kernel: k.index, grid: grid, block: block,
                                       sharedMemoryBytes: sharedMemoryBytes, stream: h, cooperative: cooperative)
            // Pipelined: the launch does not wait for the worker. Its usage comes with the next poll, taken after
            // a few launches or a millisecond, so the scheduler's view stays fresh.
            try worker.post(.launchKernel) { w in
                message.encode(into: &w)
                parameters.withUnsafeBytes { w.raw($0) }
            }
            if scheduler.launched(ticket) { try refreshUsage() }
        }
    }

    /// Asks the worker what its device has done (which also waits for the launches posted before).
    private func refreshUsage() throws(DeviceError) {
        let usage = try worker.call(.nodeStatus, { (_: inout WireWriter) in }, reply: { (r) throws(WireError) in try WorkerUsage(from: &r) })
        scheduler.update(ticket, usage)
    }

    func destroy() {
        let (first, store, tickets) = state.withLock { s in
            defer {
                // The worker's exit gives its device memory back.
                s.destroyed = true
                s.tickets = [:]
                s.store = nil
                s.allocations = [:]
                s.used = 0
                s.physical = 0
                s.programMemory = [:]
                s.programMappings = [:]
                s.hostRegions = []
            }
            return (!s.destroyed, s.store, s.tickets)
        }
        guard first else { return }
        worker.terminate()
        scheduler.remove(ticket)
        for chunks in tickets.values { for t in chunks { store?.discard(t) } }
    }
}

final class WorkerStream: DeviceStream, @unchecked Sendable {
    let handle: UInt64
    weak var context: WorkerContext?
    init(handle: UInt64) { self.handle = handle }
    var isIdle: Bool { context?.query(stream: handle) ?? true }
}

final class WorkerEvent: DeviceEvent, @unchecked Sendable {
    let handle: UInt64
    weak var context: WorkerContext?
    init(handle: UInt64, context: WorkerContext) { self.handle = handle; self.context = context }
    deinit { context?.release(event: handle) }
    var isComplete: Bool { context?.query(event: handle) ?? true }
    func synchronize() { context?.synchronize(event: handle) }
}

final class WorkerKernel: DeviceKernel, @unchecked Sendable {
    let info: KernelInfo
    let module: UInt64
    let index: Int
    init(info: KernelInfo, module: UInt64, index: Int) { self.info = info; self.module = module; self.index = index }
}

final class WorkerModule: DeviceModule, @unchecked Sendable {
    let kernels: [any DeviceKernel]
    let variables: [VariableInfo]
    init(_ reply: LoadModuleReply) {
        kernels = reply.kernels.enumerated().map { WorkerKernel(info: $1, module: reply.module, index: $0) }
        variables = reply.variables
    }
}
