#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import TesseraDevice
import TesseraWire

/// The worker's side of the link: one CUDA context, the handles it created, and device time measured with CUDA
/// events around every launch.
final class WorkerServer {
    let driver: CUDADriver
    let context: OpaquePointer?
    var streams: [UInt64: OpaquePointer?] = [:]
    var events: [UInt64: OpaquePointer?] = [:]
    struct Module {
        var module: OpaquePointer?
        var functions: [OpaquePointer?]
        var parameters: [[KernelInfo.Parameter]]
    }
    var modules: [UInt64: Module] = [:]
    var nextHandle: UInt64 = 1
    /// Event pairs around launches not yet known to be complete, oldest first; spare pairs for reuse.
    var timing: [Timing] = []
    struct Timing {
        var start: OpaquePointer?
        var end: OpaquePointer?
        var stream: OpaquePointer?
    }
    var spareTiming: [(OpaquePointer?, OpaquePointer?)] = []
    /// Each stream's most recently charged pair, kept out of reuse: the next launch's charge is measured from
    /// its end (see ``collectTiming()``).
    var lastCharged: [OpaquePointer?: (OpaquePointer?, OpaquePointer?)] = [:]
    var busyNanoseconds: UInt64 = 0
    var completedLaunches: UInt64 = 0
    /// The first error that poisoned the context: every later reply carries it.
    var sticky: DeviceError?
    /// The first failure of a pipelined request (one that expects no reply): the next reply carries it as its
    /// deferred status, as the node does for its programs.
    var pending: ReplyStatus?
    /// Launches whose event pairs wait before the worker asks the driver which completed: each question is a
    /// driver call (a round trip where the driver is itself remote), so they are asked in batches, and whenever
    /// the node polls the worker's usage.
    static let timingBatch = 64
    /// The longest gap after a stream's previous launch that still counts as the device's own (milliseconds).
    static let chainedGapMilliseconds = 0.5
    let staging: UnsafeMutableRawPointer
    var out = WireWriter(capacity: 1 << 16)
    var scratch = WireWriter(capacity: 1 << 10)

    /// Allocations through virtual memory management (a paging node's workers), else plain `cuMemAlloc`.
    var virtualMemory: WorkerVirtualMemory?
    /// Mapped host memory by the program's address (see WorkerServer+HostMemory.swift).
    var hostMappings: [UInt64: HostMapping] = [:]
    /// Descriptors the node sent (SCM_RIGHTS) that no request has taken yet, oldest first.
    var receivedFiles: [Int32] = []

    /// The CUdevice this worker serves.
    let device: Int32

    init(driver: CUDADriver, ordinal: Int, virtualMemory: Bool) throws(DeviceError) {
        self.driver = driver
        var device: Int32 = 0
        try driver.check(driver.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        self.device = device
        var ctx: OpaquePointer?
        try driver.check(driver.cuCtxCreate(&ctx, 0, device), "cuCtxCreate")
        context = ctx
        if virtualMemory {
            guard let vmm = WorkerVirtualMemory(driver: driver, device: device) else {
                throw DeviceError(.notSupported, "the CUDA driver lacks virtual memory management for device \(ordinal)")
            }
            self.virtualMemory = vmm
        }
        staging = .allocate(byteCount: WireProtocol.maxInlineChunk, alignment: 4096)
    }

    func serve(fd: Int32) -> Int32 {
        var frames = FrameBuffer(maxBody: WireProtocol.maxRequestBody, initialCapacity: 1 << 20)
        while true {
            let frame: (header: FrameHeader, body: UnsafeRawBufferPointer)?
            do throws(WireError) { frame = try frames.nextFrame() } catch { return 2 }
            guard let (header, body) = frame else {
                let space = frames.writableSpace(minimum: max(64 << 10, (try? frames.bytesNeeded()) ?? 0))
                var files = [Int32](repeating: -1, count: 4)
                var count: Int32 = 0
                let n = tessera_recv_with_fds(fd, space.baseAddress, space.count, &files, 4, &count)
                receivedFiles += files.prefix(Int(count))
                // The node closed the link (the session ended) or died: the driver frees the context with us.
                if n <= 0 { return 0 }
                frames.commit(n)
                continue
            }
            out.reset()
            handle(header, body)
            // Pipelined requests (launches) get no reply: nothing to send.
            guard out.count == 0 || CUDAWorker.send(fd, out.bytes) else { return 0 }
        }
    }

    private func reply(_ id: UInt64, _ status: ReplyStatus, extra: [UInt8] = []) {
        let deferred = pending ?? .ok
        pending = nil
        out.frame(.reply, requestID: id) { [scratch] w in
            ReplyHeader(status: status, deferred: deferred).encode(into: &w)
            if status.isOK { scratch.bytes.withUnsafeBytes { w.raw($0) } }
            extra.withUnsafeBytes { w.raw($0) }
        }
    }

    private func handle(_ header: FrameHeader, _ body: UnsafeRawBufferPointer) {
        scratch.reset()
        var r = WireReader(body)
        var status = ReplyStatus.ok
        do throws(DeviceError) {
            // A poisoned context still answers usage polls and gives mapped host memory back.
            if let sticky, header.opcode != .nodeStatus, header.opcode != .unregisterHostMemory {
                if header.opcode == .registerHostMemory, !receivedFiles.isEmpty { close(receivedFiles.removeFirst()) }
                throw sticky
            }
            try perform(header.opcode, &r)
        } catch {
            if error.code.isSticky && sticky == nil { sticky = error }
            status = error.status
        }
        guard header.flags.contains(.replyExpected) else {
            if !status.isOK && pending == nil { pending = status }
            return
        }
        var usage: [UInt8] = []
        if header.opcode == .launchKernel || header.opcode == .nodeStatus {
            collectTiming()
            var w = WireWriter(capacity: 32)
            WorkerUsage(busyNanoseconds: busyNanoseconds, inFlight: timing.count,
                        meanLaunchNanoseconds: completedLaunches == 0 ? 0 : busyNanoseconds / completedLaunches).encode(into: &w)
            if header.opcode == .nodeStatus { w.bool(sticky != nil); (sticky?.status ?? .ok).encode(into: &w) }
            usage = w.bytes
            if header.opcode == .nodeStatus { status = .ok }
        }
        reply(header.requestID, status, extra: status.isOK ? usage : [])
    }

    private func stream(_ handle: UInt64) throws(DeviceError) -> OpaquePointer? {
        if handle == 0 { return nil }
        guard let s = streams[handle] else { throw DeviceError(.invalidHandle, "no stream \(handle) in this worker") }
        return s
    }

    private func event(_ handle: UInt64) throws(DeviceError) -> OpaquePointer? {
        guard let e = events[handle] else { throw DeviceError(.invalidHandle, "no event \(handle) in this worker") }
        return e
    }

    private func makeHandle() -> UInt64 { defer { nextHandle += 1 }; return nextHandle }

    private func wire<T>(_ body: () throws(WireError) -> T) throws(DeviceError) -> T {
        do { return try body() } catch { throw DeviceError(.protocolError, error.description) }
    }

    private func perform(_ opcode: Opcode, _ r: inout WireReader) throws(DeviceError) {
        let d = driver
        switch opcode {
        case .allocate:
            let m = try wire { () throws(WireError) in try Allocate(from: &r) }
            var address: UInt64 = 0
            if virtualMemory != nil {
                address = try virtualMemory!.allocate(m.size)
            } else {
                try d.check(d.cuMemAlloc(&address, m.size), "cuMemAlloc(\(m.size))")
            }
            AddressReply(address: address).encode(into: &scratch)
        case .free:
            let m = try wire { () throws(WireError) in try Free(from: &r) }
            if virtualMemory != nil {
                try virtualMemory!.free(m.address)
            } else {
                try d.check(d.cuMemFree(m.address), "cuMemFree")
            }
        case .virtualMemory:
            let m = try wire { () throws(WireError) in try VirtualMemoryRequest(from: &r) }
            VirtualMemoryReply(value: try programVirtualMemory(m.operation)).encode(into: &scratch)
        case .evictAllocation:
            let m = try wire { () throws(WireError) in try EvictAllocation(from: &r) }
            guard virtualMemory != nil else { throw DeviceError(.notSupported, "this worker allocates without virtual memory management") }
            try virtualMemory!.evict(m.address)
        case .restoreAllocation:
            let m = try wire { () throws(WireError) in try RestoreAllocation(from: &r) }
            guard virtualMemory != nil else { throw DeviceError(.notSupported, "this worker allocates without virtual memory management") }
            try virtualMemory!.restore(m.address)
        case .memoryInfo:
            var free = 0, total = 0
            try d.check(d.cuMemGetInfo(&free, &total), "cuMemGetInfo")
            MemoryInfoReply(free: free, total: total).encode(into: &scratch)
        case .copyToDevice:
            let m = try wire { () throws(WireError) in try CopyToDevice(from: &r) }
            let s = try stream(m.stream)
            if case let .region(id, offset) = m.source {
                // From the worker's mapping of a shared region, in stream order (DMA when registered).
                let p = try hostRange(id, offset: offset, count: m.count)
                try d.check(d.cuMemcpyHtoDAsync(m.destination, p, m.count, s), "cuMemcpyHtoDAsync")
                return
            }
            let data = r.rest()
            guard data.count == m.count else { throw DeviceError(.protocolError, "copy of \(m.count) bytes carries \(data.count)") }
            // The frame's bytes live until the next read: the copy completes before the reply.
            try d.check(d.cuMemcpyHtoDAsync(m.destination, data.baseAddress, m.count, s), "cuMemcpyHtoDAsync")
            try d.check(d.cuStreamSynchronize(s), "cuStreamSynchronize")
        case .copyFromDevice:
            let m = try wire { () throws(WireError) in try CopyFromDevice(from: &r) }
            let s = try stream(m.stream)
            if case let .region(id, offset) = m.destination {
                let p = try hostRange(id, offset: offset, count: m.count)
                try d.check(d.cuMemcpyDtoHAsync(p, m.source, m.count, s), "cuMemcpyDtoHAsync")
                return
            }
            guard m.count <= WireProtocol.maxInlineChunk else { throw DeviceError(.invalidValue, "copy chunk of \(m.count) bytes") }
            try d.check(d.cuMemcpyDtoHAsync(staging, m.source, m.count, s), "cuMemcpyDtoHAsync")
            try d.check(d.cuStreamSynchronize(s), "cuStreamSynchronize")
            scratch.raw(UnsafeRawBufferPointer(start: staging, count: m.count))
        case .copyOnDevice:
            let m = try wire { () throws(WireError) in try CopyOnDevice(from: &r) }
            try d.check(d.cuMemcpyDtoDAsync(m.destination, m.source, m.count, try stream(m.stream)), "cuMemcpyDtoDAsync")
        case .memset:
            let m = try wire { () throws(WireError) in try Memset(from: &r) }
            try d.check(d.cuMemsetD8Async(m.destination, m.value, m.count, try stream(m.stream)), "cuMemsetD8Async")
        case .createStream:
            let m = try wire { () throws(WireError) in try CreateStream(from: &r) }
            var s: OpaquePointer?
            try d.check(d.cuStreamCreateWithPriority(&s, m.flags, m.priority), "cuStreamCreateWithPriority")
            let h = makeHandle()
            streams[h] = s
            HandleReply(handle: h).encode(into: &scratch)
        case .destroyStream:
            let m = try wire { () throws(WireError) in try DestroyStream(from: &r) }
            guard let s = streams.removeValue(forKey: m.handle) else { throw DeviceError(.invalidHandle, "no stream \(m.handle)") }
            try d.check(d.cuStreamDestroy(s), "cuStreamDestroy")
        case .synchronizeStream:
            let m = try wire { () throws(WireError) in try SynchronizeStream(from: &r) }
            try d.check(d.cuStreamSynchronize(try stream(m.stream)), "cuStreamSynchronize")
        case .queryStream:
            let m = try wire { () throws(WireError) in try QueryStream(from: &r) }
            try d.check(d.cuStreamQuery(try stream(m.stream)), "cuStreamQuery")
        case .streamWaitEvent:
            let m = try wire { () throws(WireError) in try StreamWaitEvent(from: &r) }
            try d.check(d.cuStreamWaitEvent(try stream(m.stream), try event(m.event), 0), "cuStreamWaitEvent")
        case .createEvent:
            let m = try wire { () throws(WireError) in try CreateEvent(from: &r) }
            var e: OpaquePointer?
            // CU_EVENT_DISABLE_TIMING = 2, as cudaEventDisableTiming.
            try d.check(d.cuEventCreate(&e, m.flags & 2), "cuEventCreate")
            let h = makeHandle()
            events[h] = e
            HandleReply(handle: h).encode(into: &scratch)
        case .destroyEvent:
            let m = try wire { () throws(WireError) in try DestroyEvent(from: &r) }
            guard let e = events.removeValue(forKey: m.handle) else { throw DeviceError(.invalidHandle, "no event \(m.handle)") }
            try d.check(d.cuEventDestroy(e), "cuEventDestroy")
        case .recordEvent:
            let m = try wire { () throws(WireError) in try RecordEvent(from: &r) }
            try d.check(d.cuEventRecord(try event(m.event), try stream(m.stream)), "cuEventRecord")
        case .synchronizeEvent:
            let m = try wire { () throws(WireError) in try SynchronizeEvent(from: &r) }
            try d.check(d.cuEventSynchronize(try event(m.handle)), "cuEventSynchronize")
        case .queryEvent:
            let m = try wire { () throws(WireError) in try QueryEvent(from: &r) }
            try d.check(d.cuEventQuery(try event(m.handle)), "cuEventQuery")
        case .eventElapsedTime:
            let m = try wire { () throws(WireError) in try EventElapsedTime(from: &r) }
            var ms: Float = 0
            try d.check(d.cuEventElapsedTime(&ms, try event(m.start), try event(m.end)), "cuEventElapsedTime")
            ElapsedTimeReply(milliseconds: ms).encode(into: &scratch)
        case .synchronizeDevice:
            try d.check(d.cuCtxSynchronize(), "cuCtxSynchronize")
        case .loadModule:
            _ = try wire { () throws(WireError) in try LoadModule(from: &r) }
            try loadModule(r.rest())
        case .launchKernel:
            let m = try wire { () throws(WireError) in try LaunchKernel(from: &r) }
            try launch(m, parameters: r.rest())
        case .registerHostMemory:
            // The file travelled with the request's first bytes: it is the oldest one not yet taken.
            guard !receivedFiles.isEmpty else { throw DeviceError(.protocolError, "registerHostMemory without a file descriptor") }
            let file = receivedFiles.removeFirst()
            let m: RegisterHostMemory
            do throws(WireError) { m = try RegisterHostMemory(from: &r) } catch {
                close(file)
                throw DeviceError(.protocolError, error.description)
            }
            if m.address == 0 { try mapCopyRegion(m, file: file) } else { try mapHostMemory(m, file: file) }
        case .unregisterHostMemory:
            let m = try wire { () throws(WireError) in try UnregisterHostMemory(from: &r) }
            try unmapHostMemory(at: m.region)
        case .nodeStatus:
            break
        default:
            throw DeviceError(.notSupported, "\(opcode) is not a worker request")
        }
    }

    private func loadModule(_ image: UnsafeRawBufferPointer) throws(DeviceError) {
        // PTX must be NUL-terminated; a trailing NUL does not disturb a binary image.
        var copy = [UInt8](image)
        copy.append(0)
        var module: OpaquePointer?
        let rc = copy.withUnsafeBytes { driver.cuModuleLoadData(&module, $0.baseAddress) }
        try driver.check(rc, "cuModuleLoadData")
        var count: UInt32 = 0
        try driver.check(driver.cuModuleGetFunctionCount(&count, module), "cuModuleGetFunctionCount")
        var functions = [OpaquePointer?](repeating: nil, count: Int(count))
        if count > 0 {
            try driver.check(driver.cuModuleEnumerateFunctions(&functions, count, module), "cuModuleEnumerateFunctions")
        }
        var infos: [KernelInfo] = []
        for f in functions { infos.append(try describe(f)) }
        let variables = ImageSymbols.candidates(inModule: image).compactMap { name -> VariableInfo? in
            var address: UInt64 = 0, size = 0
            guard driver.cuModuleGetGlobal(&address, &size, module, name) == 0 else { return nil }
            return VariableInfo(name: name, address: address, size: size)
        }
        let h = makeHandle()
        modules[h] = Module(module: module, functions: functions, parameters: infos.map(\.parameters))
        LoadModuleReply(module: h, kernels: infos, variables: variables).encode(into: &scratch)
    }

    private func describe(_ f: OpaquePointer?) throws(DeviceError) -> KernelInfo {
        var namePointer: UnsafePointer<CChar>?
        try driver.check(driver.cuFuncGetName(&namePointer, f), "cuFuncGetName")
        let name = namePointer.map { String(cString: $0) } ?? ""
        var parameters: [KernelInfo.Parameter] = []
        while parameters.count < 4096 {
            var offset = 0, size = 0
            guard driver.cuFuncGetParamInfo(f, parameters.count, &offset, &size) == 0 else { break }
            parameters.append(.init(offset: offset, size: size))
        }
        func attribute(_ a: Int32) -> Int {
            var v: Int32 = 0
            return driver.cuFuncGetAttribute(&v, a, f) == 0 ? Int(v) : 0
        }
        // CUfunction_attribute: 0 max threads, 1 shared, 2 const, 3 local, 4 registers, 5 PTX, 6 binary version.
        return KernelInfo(name: name, parameters: parameters, staticSharedBytes: attribute(1), localBytesPerThread: attribute(3),
                          constantBytes: attribute(2), registersPerThread: attribute(4), maxThreadsPerBlock: attribute(0),
                          ptxVersion: attribute(5), binaryVersion: attribute(6))
    }

    private func launch(_ m: LaunchKernel, parameters: UnsafeRawBufferPointer) throws(DeviceError) {
        guard let module = modules[m.module] else { throw DeviceError(.invalidHandle, "no module \(m.module)") }
        guard m.kernel >= 0, m.kernel < module.functions.count else { throw DeviceError(.invalidValue, "no kernel \(m.kernel)") }
        let layout = module.parameters[m.kernel]
        let needed = layout.last.map { $0.offset + $0.size } ?? 0
        guard parameters.count >= needed else {
            throw DeviceError(.invalidValue, "kernel parameters are \(parameters.count) bytes, the kernel takes \(needed)")
        }
        let s = try stream(m.stream)
        if timing.count >= Self.timingBatch { collectTiming() }
        let pair = try timingPair()
        // One buffer the parameter pointers point into (the driver copies them at launch).
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(needed, 1), alignment: 16)
        defer { buffer.deallocate() }
        if needed > 0 { buffer.copyMemory(from: parameters.baseAddress!, byteCount: needed) }
        var pointers = layout.map { Optional(buffer + $0.offset) }
        _ = driver.cuEventRecord(pair.0, s)
        let rc = pointers.withUnsafeMutableBufferPointer { p -> CUDADriver.Result in
            if m.cooperative {
                // CUDA_ERROR_NOT_SUPPORTED (801) from a driver without cooperative launch.
                guard let launch = driver.cuLaunchCooperativeKernel else { return 801 }
                return launch(module.functions[m.kernel], m.grid.0, m.grid.1, m.grid.2, m.block.0, m.block.1, m.block.2,
                              UInt32(m.sharedMemoryBytes), s, layout.isEmpty ? nil : p.baseAddress)
            }
            return driver.cuLaunchKernel(module.functions[m.kernel], m.grid.0, m.grid.1, m.grid.2, m.block.0, m.block.1, m.block.2,
                                         UInt32(m.sharedMemoryBytes), s, layout.isEmpty ? nil : p.baseAddress, nil)
        }
        guard rc == 0 else {
            spareTiming.append(pair)
            try driver.check(rc, "cuLaunchKernel")
            return
        }
        _ = driver.cuEventRecord(pair.1, s)
        timing.append(Timing(start: pair.0, end: pair.1, stream: s))
    }

    private func timingPair() throws(DeviceError) -> (OpaquePointer?, OpaquePointer?) {
        if let p = spareTiming.popLast() { return p }
        var a: OpaquePointer?, b: OpaquePointer?
        try driver.check(driver.cuEventCreate(&a, 0), "cuEventCreate")
        try driver.check(driver.cuEventCreate(&b, 0), "cuEventCreate")
        return (a, b)
    }

    /// Charges the launches that completed. Launches on one stream complete in order, so the newest pair of each
    /// stream is asked first: when it is done, so are all before it, and one query answers for the stream.
    private func collectTiming() {
        guard !timing.isEmpty else { return }
        var newestDone: [OpaquePointer?: Bool] = [:]
        for t in timing.reversed() where newestDone[t.stream] == nil {
            let rc = driver.cuEventQuery(t.end)
            newestDone[t.stream] = rc != 600  // CUDA_ERROR_NOT_READY
        }
        var remaining: [Timing] = []
        var blocked: Set<OpaquePointer?> = []
        for t in timing {
            var done = newestDone[t.stream] == true
            if !done && !blocked.contains(t.stream) {
                // The stream's newest launch is still running: ask for this one, in order, up to the first pending.
                done = driver.cuEventQuery(t.end) != 600
                if !done { blocked.insert(t.stream) }
            }
            guard done else { remaining.append(t); continue }
            var ms: Float = 0
            let rc = driver.cuEventElapsedTime(&ms, t.start, t.end)
            if rc == 0 {
                var charge = Double(max(0, ms))
                // A launch queued behind the stream's previous one occupies the device from that one's end: the
                // device's own work between kernels (scheduling, the event itself) belongs to this session too.
                // A longer gap is the device waiting for the host, or another session's turn: not charged.
                if let previous = lastCharged[t.stream] {
                    var chained: Float = 0
                    if driver.cuEventElapsedTime(&chained, previous.1, t.end) == 0, Double(chained) >= charge,
                       Double(chained) - charge <= min(charge, Self.chainedGapMilliseconds) {
                        charge = Double(chained)
                    }
                    spareTiming.append(previous)
                }
                lastCharged[t.stream] = (t.start, t.end)
                busyNanoseconds &+= UInt64(charge * 1_000_000)
                completedLaunches += 1
            } else {
                if sticky == nil, rc != 600 {
                    // A failed launch poisons its events; the fault is the context's from now on.
                    let q = driver.cuEventQuery(t.end)
                    if q != 0 && q != 600 { sticky = DeviceError(CUDADriver.code(of: q), "kernel: \(driver.name(of: q))") }
                }
                spareTiming.append((t.start, t.end))
            }
        }
        timing = remaining
    }
}
