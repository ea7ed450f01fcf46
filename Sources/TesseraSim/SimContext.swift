import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One program's view of a simulated GPU: its allocations, loaded modules, streams and events, and its
/// sticky error. Contexts are isolated: work in one can address only memory that context allocated.
public final class SimContext: Sendable {
    /// The device this context runs on.
    public let device: SimulatedGPU
    /// The most bytes this context may hold at once; `nil` means the device's free memory is the limit.
    public let memoryLimit: Int?
    /// Which address window of its device the context allocates from (see ``SimulatedGPU/addressBase(ordinal:window:)``).
    public let addressWindow: Int
    /// CUDA's legacy default stream (stream 0).
    public let defaultStream: SimStream

    struct State {
        var allocations: [UInt64: Allocation] = [:]
        var addressMap = AddressMap([])
        var usedBytes = 0
        var streams: [Int: SimStream] = [:]
        var nextStreamID = 1
        var stickyError: SimError?
        var destroyed = false
        var deviceBusyNanoseconds: UInt64 = 0
        /// Device printf output not yet taken, in launch order; and the assert messages (stderr side).
        var printfPending: [UInt8] = []
        var assertPending: [UInt8] = []
        var printfFifoSize = 1 << 20
        var stackSize = 1024
        var gridWorkspace: UInt64?
        /// Host memory mapped into the device's address space (zero-copy), by device address; not owned.
        var hostMappings: [UInt64: Allocation] = [:]
        /// Allocations whose bytes are paged out (base → size): their addresses stay taken, their device memory
        /// is given back, and no work can address them until they are paged in.
        var pagedOut: [UInt64: Int] = [:]
        /// A page-out or page-in is copying the allocations' storage; destruction waits for it.
        var paging = false
        /// Virtual memory management: address ranges reserved (base → size, no memory), physical memory made with
        /// `cuMemCreate` (by handle), and where it is mapped (by address).
        var reservations: [UInt64: Int] = [:]
        var physical: [UInt64: PhysicalMemory] = [:]
        var mappings: [UInt64: VirtualMapping] = [:]
        var nextPhysicalHandle: UInt64 = 1
    }
    let state = Mutex(State())
    /// Set when the context is being torn down; running kernels check it and stop early.
    let cancelled = Atomic<Bool>(false)
    /// Where ``enqueue(on:after:onDevice:inlineIfIdle:_:)`` counts queued device work for the device's scheduler.
    let announcements = DeviceScheduler.Announcements()
    /// Set once the context has a sticky error (``setStickyError(_:)``): every unit checks it without the lock.
    let faulted = Atomic<Bool>(false)
    /// The modelled device time of the unit on the device, when it knows one (0: charge its wall time). Units of
    /// a scheduled device run one at a time, so one slot per context suffices.
    let unitDeviceTime = Atomic<UInt64>(0)
    let kernelCount = Atomic<Int>(0)
    let warpInstructionCount = Atomic<Int>(0)

    init(device: SimulatedGPU, memoryLimit: Int?, addressWindow: Int = 0) {
        self.addressWindow = addressWindow
        self.device = device
        self.memoryLimit = memoryLimit
        let stream = SimStream(id: 0, nonBlocking: false, priority: 0)
        self.defaultStream = stream
        state.withLock { $0.streams[0] = stream }
    }

    // MARK: Memory

    /// Bytes this context has allocated.
    public var memoryUsed: Int { state.withLock { $0.usedBytes } }

    /// Free and total memory as this context sees them (`cudaMemGetInfo`): with a limit, the limit is the total.
    public var memoryInfo: (free: Int, total: Int) {
        let used = memoryUsed
        if let limit = memoryLimit {
            return (max(0, min(limit - used, device.memoryFree)), limit)
        }
        return (device.memoryFree, device.properties.totalMemory)
    }

    /// Allocates `size` bytes of zeroed device memory; the address is aligned to 512 bytes.
    public func allocate(_ size: Int) throws(SimError) -> UInt64 {
        guard size >= 0 else { throw SimError(.invalidValue, "negative allocation size \(size)") }
        let size = max(size, 1)
        try state.withLock { (s) throws(SimError) in
            if s.destroyed { throw SimError(.invalidHandle, "context destroyed") }
            if let limit = memoryLimit, s.usedBytes + size > limit {
                throw SimError(.outOfMemory, "allocation of \(size) bytes exceeds the memory limit: \(s.usedBytes) of \(limit) bytes in use")
            }
            s.usedBytes += size  // claimed before the device reservation so concurrent callers cannot both pass the check
        }
        let address: UInt64
        do {
            address = try device.reserve(size, window: addressWindow)
        } catch {
            state.withLock { $0.usedBytes -= size }
            throw error
        }
        guard let allocation = Allocation.make(base: address, size: size) else {
            device.release(size)
            state.withLock { $0.usedBytes -= size }
            throw SimError(.outOfMemory, "host memory exhausted backing \(size) bytes")
        }
        // A context destroyed meanwhile (its session aborted while this call ran) has already released what it
        // held: this allocation must not outlive it, or its device memory would never come back.
        let kept = state.withLock { s -> Bool in
            guard !s.destroyed else { return false }
            s.allocations[address] = allocation
            s.rebuildAddressMap()
            return true
        }
        guard kept else {
            device.release(size)
            allocation.destroy()
            throw SimError(.invalidHandle, "context destroyed")
        }
        return address
    }

    /// Frees an allocation made by ``allocate(_:)``. Like `cudaFree`, waits for the context's queued work first.
    public func free(_ address: UInt64) throws(SimError) {
        waitForAllStreams()
        let removed = state.withLock { s -> Allocation? in
            guard let a = s.allocations.removeValue(forKey: address) else { return nil }
            s.usedBytes -= a.size
            s.rebuildAddressMap()
            return a
        }
        guard let removed else {
            throw SimError(.invalidValue, "0x\(String(address, radix: 16)) is not an allocation of this context")
        }
        device.release(removed.size)
        removed.destroy()
    }

    /// The allocation range containing `address`, if it belongs to this context.
    public func allocationRange(containing address: UInt64) -> (base: UInt64, size: Int)? {
        state.withLock { $0.addressMap.find(address, length: 1) }.map { ($0.base, $0.size) }
    }

    var addressMap: AddressMap { state.withLock { $0.addressMap } }

    /// Host pointer to [address, address + count) when the whole range lies in one allocation of this context.
    func checkedPointer(_ address: UInt64, _ count: Int, _ what: String) throws(SimError) -> MutablePointer {
        guard count >= 0 else { throw SimError(.invalidValue, "negative byte count") }
        guard let p = addressMap.resolve(address, length: max(count, 1)) else {
            throw SimError(.invalidValue, "\(what) 0x\(String(address, radix: 16))+\(count) is outside this context's allocations")
        }
        return MutablePointer(p)
    }

    // MARK: Copies and memset (asynchronous; the caller's host buffers must stay valid until the stream passes them)

    /// Queues a host-to-device copy. `source` must remain valid until the work completes.
    public func copyToDevice(_ destination: UInt64, from source: UnsafeRawPointer, count: Int, on stream: SimStream? = nil) throws(SimError) {
        let dst = try checkedPointer(destination, count, "destination")
        let src = UncheckedPointer(source)
        try enqueue(on: stream, onDevice: true, inlineIfIdle: count <= Self.inlineWorkLimit) {
            dst.pointer.copyMemory(from: src.pointer, byteCount: count)
        }
    }

    /// Queues a device-to-host copy. `destination` must remain valid until the work completes.
    public func copyFromDevice(_ source: UInt64, to destination: UnsafeMutableRawPointer, count: Int, on stream: SimStream? = nil) throws(SimError) {
        let src = try checkedPointer(source, count, "source")
        let dst = MutablePointer(destination)
        try enqueue(on: stream, onDevice: true, inlineIfIdle: count <= Self.inlineWorkLimit) {
            dst.pointer.copyMemory(from: src.pointer, byteCount: count)
        }
    }

    /// Queues a device-to-device copy (ranges may overlap, as with memmove).
    public func copyOnDevice(_ destination: UInt64, from source: UInt64, count: Int, on stream: SimStream? = nil) throws(SimError) {
        let dst = try checkedPointer(destination, count, "destination")
        let src = try checkedPointer(source, count, "source")
        try enqueue(on: stream, onDevice: true, inlineIfIdle: count <= Self.inlineWorkLimit) { memmove(dst.pointer, src.pointer, count) }
    }

    /// Queues a 2D copy between device ranges of `height` rows of `width` bytes.
    public func copy2DOnDevice(_ destination: UInt64, pitch dpitch: Int, from source: UInt64, pitch spitch: Int, width: Int, height: Int, on stream: SimStream? = nil) throws(SimError) {
        guard width >= 0, height >= 0, dpitch >= width, spitch >= width else { throw SimError(.invalidValue, "invalid pitch or width") }
        if height == 0 || width == 0 { return }
        let dst = try checkedPointer(destination, dpitch * (height - 1) + width, "destination")
        let src = try checkedPointer(source, spitch * (height - 1) + width, "source")
        try enqueue(on: stream, onDevice: true) {
            for row in 0..<height { memmove(dst.pointer + row * dpitch, src.pointer + row * spitch, width) }
        }
    }

    /// Queues filling `count` bytes at `destination` with `value`.
    public func memset(_ destination: UInt64, value: UInt8, count: Int, on stream: SimStream? = nil) throws(SimError) {
        let dst = try checkedPointer(destination, count, "destination")
        try enqueue(on: stream, onDevice: true, inlineIfIdle: count <= Self.inlineWorkLimit) {
            dst.pointer.initializeMemory(as: UInt8.self, repeating: value, count: count)
        }
    }

    // MARK: Streams and events

    /// Creates a stream. Non-blocking streams do not synchronize with the legacy default stream.
    public func makeStream(nonBlocking: Bool = false, priority: Int = 0) -> SimStream {
        state.withLock { s in
            let stream = SimStream(id: s.nextStreamID, nonBlocking: nonBlocking, priority: priority)
            s.nextStreamID += 1
            s.streams[stream.id] = stream
            return stream
        }
    }

    /// Destroys a stream after its queued work completes (the call itself does not wait, as in CUDA).
    public func destroyStream(_ stream: SimStream) throws(SimError) {
        guard stream.id != 0 else { throw SimError(.invalidHandle, "the default stream cannot be destroyed") }
        let removed = state.withLock { $0.streams.removeValue(forKey: stream.id) }
        guard removed != nil else { throw SimError(.invalidHandle, "stream \(stream.id) is not live in this context") }
    }

    /// Creates an event.
    public func makeEvent(timingDisabled: Bool = false) -> SimEvent { SimEvent(timingDisabled: timingDisabled) }

    /// Records `event` at the current end of `stream`.
    public func record(_ event: SimEvent, on stream: SimStream? = nil) throws(SimError) {
        let done = try enqueue(on: stream, inlineIfIdle: true) {
            let now = DispatchTime.now().uptimeNanoseconds
            event.state.withLock { $0.timestampNanoseconds = now }
        }
        event.state.withLock { $0.completion = done }
    }

    /// Makes later work on `stream` wait until `event`'s last recorded point is reached.
    public func wait(_ stream: SimStream, for event: SimEvent) throws(SimError) {
        guard let pending = event.state.withLock({ $0.completion }) else { return }
        try enqueue(on: stream, after: [pending]) {}
    }

    /// Blocks until all work queued on `stream` completes; throws the context's sticky error, if any.
    public func synchronize(_ stream: SimStream) throws(SimError) {
        stream.waitIdle()
        if let e = stickyError { throw e }
    }

    /// Blocks until all work of the context completes; throws the context's sticky error, if any.
    public func synchronize() throws(SimError) {
        waitForAllStreams()
        if let e = stickyError { throw e }
    }

    /// The error that poisoned the context (an illegal address or launch failure), if any.
    public var stickyError: SimError? { faulted.load(ordering: .acquiring) ? state.withLock { $0.stickyError } : nil }

    /// The context's share of the device's time; takes effect for work that starts after the change.
    public var computeQuota: ComputeQuota {
        get { device.scheduler.state.withLock { $0.clients[ObjectIdentifier(self)]?.quota } ?? .whole }
        set { device.scheduler.update(ObjectIdentifier(self), quota: newValue) }
    }

    /// Fraction of the last second during which the device was busy with this context's work.
    public var utilization: Double { device.scheduler.utilization(ObjectIdentifier(self)) }

    /// Total nanoseconds this context's work (kernels and copies) occupied the device.
    public var deviceBusyNanoseconds: UInt64 { state.withLock { $0.deviceBusyNanoseconds } }

    /// Number of kernels of this context that have finished.
    public var kernelsLaunched: Int { kernelCount.load(ordering: .relaxed) }

    /// Warp-instructions this context's kernels have executed (one instruction issued for a warp counts once).
    public var warpInstructionsExecuted: Int { warpInstructionCount.load(ordering: .relaxed) }

    func waitForAllStreams() {
        let streams = state.withLock { Array($0.streams.values) }
        for s in streams { s.waitIdle() }
    }

    /// Tears the context down: stops running kernels, waits for queued work, frees every allocation.
    /// Safe to call more than once.
    public func destroy() {
        let first = state.withLock { s -> Bool in
            defer { s.destroyed = true }
            return !s.destroyed
        }
        guard first else { return }
        cancelled.store(true, ordering: .relaxed)
        waitForAllStreams()
        while state.withLock({ $0.paging }) { usleep(1000) }
        let allocations = state.withLock { s -> [Allocation] in
            let all = Array(s.allocations.values)
            s.allocations = [:]
            s.hostMappings = [:]
            s.addressMap = AddressMap([])
            s.usedBytes = 0
            s.pagedOut = [:]
            s.mappings = [:]
            s.reservations = [:]
            let blocks = s.physical.values.map { Allocation(base: 0, size: $0.size, storage: $0.storage) }
            s.physical = [:]
            return all + blocks
        }
        for a in allocations {
            device.release(a.size)
            a.destroy()
        }
        device.contextDestroyed(self)
    }

    deinit { destroy() }

    // MARK: Queueing

    /// Work at most this large (copies, memsets) runs on the calling thread when its stream has nothing
    /// queued: handing a few bytes to the stream's worker and waiting for it costs two thread wake-ups, more
    /// than the copy itself.
    public static let inlineWorkLimit = 64 << 10

    /// Queues `work` on `stream` (the default stream when nil) behind the dependencies CUDA's stream rules require.
    /// - Parameter onDevice: the work occupies the device (a kernel or copy): it runs when the device scheduler
    ///   grants this context the device, and its duration is charged to the context.
    /// - Parameter inlineIfIdle: the work is short; when everything it must follow has completed, it runs now on
    ///   the calling thread instead of the stream's worker. Stream order holds either way: the work is the
    ///   stream's tail while it runs, so anything queued meanwhile (from any thread) waits for it.
    @discardableResult
    func enqueue(on stream: SimStream?, after extra: [Completion] = [], onDevice: Bool = false, inlineIfIdle: Bool = false,
                 _ work: @escaping @Sendable () throws(SimError) -> Void) throws(SimError) -> Completion {
        let stream = stream ?? defaultStream
        let done = Completion()
        let (dependencies, runInline, sequence) = try state.withLock { (s) throws(SimError) -> ([Completion], Bool, Int) in
            if s.destroyed { throw SimError(.invalidHandle, "context destroyed") }
            guard s.streams[stream.id] === stream else { throw SimError(.invalidHandle, "stream \(stream.id) is not live in this context") }
            // Only unfinished work is a dependency (most launches then carry none, and no array is made).
            var deps = extra.filter { !$0.isDone }
            if stream.isLegacyDefault {
                for other in s.streams.values where !other.nonBlocking && other !== stream {
                    if let t = other.tail.withLock({ $0.completion }), !t.isDone { deps.append(t) }
                }
            } else if !stream.nonBlocking, let t = defaultStream.tail.withLock({ $0.completion }), !t.isDone {
                deps.append(t)
            }
            // The stream's own previous work: queued work is followed by order on the worker; inline work (still
            // running on another caller's thread) is waited for.
            let previous = stream.tail.withLock { $0 }
            let previousRunning = previous.completion.map { !$0.isDone } ?? false
            if previousRunning && !previous.queued { deps.append(previous.completion!) }
            // Decided under the context's lock, with `done` becoming the tail: work enqueued concurrently either
            // was already a dependency here or now follows `done`.
            let inline = inlineIfIdle && !previousRunning && deps.isEmpty
            let sequence = stream.tail.withLock { t -> Int in
                defer { t = SimStream.Tail(completion: done, queued: !inline, nextSequence: t.nextSequence + (inline ? 0 : 1)) }
                return t.nextSequence
            }
            return (deps, inline, sequence)
        }
        // Counted before the work can run, without the context's or the scheduler's lock (the stream's worker
        // takes both).
        if onDevice && device.schedulesCompute { device.scheduler.announce(announcements) }
        if runInline {
            execute(work, onDevice: onDevice)
            done.signal()
            return done
        }
        stream.submit(SimStream.QueuedWork(context: self, dependencies: dependencies, onDevice: onDevice, done: done, work: work),
                      sequence: sequence)
        return done
    }

    /// Runs a unit the stream's worker took from its queue, its dependencies complete.
    func runQueued(_ work: @Sendable () throws(SimError) -> Void, onDevice: Bool) {
        execute(work, onDevice: onDevice)
    }

    /// Runs one piece of queued work whose dependencies have completed (on the stream's worker, or inline).
    private func execute(_ work: @Sendable () throws(SimError) -> Void, onDevice: Bool) {
        let runnable = stickyError == nil && !cancelled.load(ordering: .relaxed)
        if onDevice && !runnable && device.schedulesCompute { device.scheduler.dropPending(ObjectIdentifier(self)) }
        guard runnable else { return }
        do throws(SimError) {
            if onDevice {
                var elapsed: UInt64 = 0
                defer { state.withLock { $0.deviceBusyNanoseconds &+= elapsed } }
                if device.schedulesCompute {
                    unitDeviceTime.store(0, ordering: .relaxed)
                    try device.scheduler.run(ObjectIdentifier(self), elapsed: &elapsed, deviceTime: { [self] in
                        let modelled = unitDeviceTime.exchange(0, ordering: .relaxed)
                        return modelled == 0 ? nil : modelled
                    }, work)
                } else {
                    let start = DispatchTime.now().uptimeNanoseconds
                    defer { elapsed = DispatchTime.now().uptimeNanoseconds - start }
                    try work()
                }
            } else {
                try work()
            }
        } catch {
            // An error of queued work has no caller to return to: it poisons the context and surfaces
            // at the next synchronization, so work never fails silently. Whatever its kind, a failure
            // during execution is a launch failure (sticky), as on hardware; the message keeps the cause.
            let sticky = error.isSticky ? error : SimError(.launchFailure, "\(error.code): \(error.message)")
            setStickyError(sticky)
        }
    }

    /// Moves a finished launch's device output into the context's pending output.
    func collect(_ output: DeviceOutput) {
        let (printf, asserts) = output.state.withLock { ($0.printf, $0.asserts) }
        if printf.isEmpty && asserts.isEmpty { return }
        state.withLock { s in
            s.printfPending += printf
            s.assertPending += asserts
        }
    }

    /// Counts a finished kernel (atomics: the stream's worker takes no lock for it).
    func recordKernel(instructions: Int) {
        warpInstructionCount.add(instructions, ordering: .relaxed)
        kernelCount.add(1, ordering: .relaxed)
    }

    func setStickyError(_ error: SimError) {
        state.withLock { s in if s.stickyError == nil { s.stickyError = error } }
        faulted.store(true, ordering: .releasing)
    }
}

/// A host pointer carried into queued work; the API contract makes the caller keep it valid.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeRawPointer
    init(_ p: UnsafeRawPointer) { pointer = p }
}

/// A device-memory host pointer carried into queued work; allocations outlive their queued work because frees wait.
struct MutablePointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ p: UnsafeMutableRawPointer) { pointer = p }
}
