#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import TesseraWire

/// The client side of Tessera, shared by every ABI face (libcudart.so.12/.13, libcuda.so.1): the sessions with
/// the nodes (opened at the first CUDA call, never at load), the granted vGPUs, registered and loaded code, and
/// what the program allocated. The faces translate their C calls into these operations and translate the
/// `cudaError_t` results back into their own error enumeration.
///
/// The home node (the one `TESSERA_ENDPOINT` names) may place some of the program's vGPUs on other nodes; the
/// runtime then holds one connection per node and routes each call to the node of the device it concerns.
/// Each node session allocates from its own device address window, so device pointers (and stream, event and
/// module handles) are unique across nodes and travel in kernel arguments untranslated.
///
/// One lock guards everything, including the connections, so calls from several host threads are serialized.
/// Faces reach the state through ``withSession(_:)`` and ``withDevice(_:checkSticky:_:)``, which take it.
public final class ClientCore: @unchecked Sendable {
    /// The runtime of this process.
    public static let shared = ClientCore()

    package let lock = Lock()
    package let flusher = PipelineFlusher()

    package enum Phase {
        case idle
        /// Sessions open: the home node's connection first, then one per other node.
        case ready(Connection)
        case failed(Int32)
    }
    package var phase = Phase.idle
    /// The granted vGPUs, device 0…n−1.
    package var devices: [VirtualDeviceInfo] = []
    /// The node connections: the home node's first, then one per other node holding some of the vGPUs.
    package var links: [Connection] = []
    /// The index in ``links`` of each device's node.
    package var deviceLinks: [Int] = []
    /// Sticky errors seen per device: later calls on that device return them at once.
    package var stickyErrors: [Int: Int32] = [:]

    // Registered code (filled at program load, before any connection).
    package var fatbins: [UnsafeMutableRawPointer: FatbinRecord] = [:]
    package var functions: [UnsafeRawPointer: KernelReference] = [:]
    package var variables: [UnsafeRawPointer: VariableReference] = [:]

    // What the program holds.
    package var allocations: [UInt64: (device: Int, size: Int)] = [:]
    /// Address ranges reserved with `cuMemAddressReserve`: base → (device, size).
    package var reservations: [UInt64: (device: Int, size: Int)] = [:]
    package var pinned: [PinnedBuffer] = []
    /// Host ranges the program registered (cudaHostRegister/cuMemHostRegister): base → size.
    package var registeredHost: [UInt: Int] = [:]
    /// Registered host ranges shared with the home node for device access (mapped memory): base → region id.
    package var registeredRegions: [UInt: UInt64] = [:]
    package var staging: PinnedBuffer?
    package var nextRegionID: UInt64 = 1
    package var streams: [UInt: Int] = [:]
    package var events: [UInt: Int] = [:]

    /// Bytes of the shared staging area for pageable copies on local sessions.
    package static let stagingSize = 8 << 20

    private init() {}

    // MARK: Session

    /// The connection, opening the session on first use. Callers hold the lock.
    package func connection() -> Result<Connection, RuntimeFailure> {
        switch phase {
        case .ready(let c):
            if let why = c.failure { return .failure(RuntimeFailure(CUDAError.unknown, why)) }
            return .success(c)
        case .failed(let e): return .failure(RuntimeFailure(e, ""))
        case .idle:
            switch openSession() {
            case .success(let c):
                phase = .ready(c)
                let ages = links.map(\.bufferAge)
                let send: @Sendable (Bool) -> PipelineFlusher.FlushOutcome = { [self] mayWait in
                    let sendAll = { [self] () -> PipelineFlusher.FlushOutcome in
                        guard case .ready = phase else { return .sent }
                        var pending = false
                        for l in links {
                            l.flush()
                            pending = pending || l.hasBuffered
                        }
                        return pending ? .stillPending : .sent
                    }
                    return mayWait ? lock.withLock(sendAll) : lock.withLockIfAvailable(sendAll) ?? .busy
                }
                for link in links {
                    link.onBuffered = { [self] in flusher.bufferBecameNonEmpty(ages: ages, flush: send) }
                }
                return .success(c)
            case .failure(let f):
                Log.error(f.message)
                phase = .failed(f.code)
                return .failure(f)
            }
        }
    }

    private func openSession() -> Result<Connection, RuntimeFailure> {
        let env = { (name: String) -> String? in getenv(name).map { String(cString: $0) } }
        let endpoint = env(VirtualGPUEnvironment.endpoint) ?? VirtualGPUEnvironment.defaultEndpoint
        var count = VirtualGPUEnvironment.defaultVirtualGPUs
        var memory = VirtualGPUEnvironment.defaultMemoryBytes
        var compute = VirtualGPUEnvironment.defaultComputePercent
        if let v = env(VirtualGPUEnvironment.virtualGPUs) {
            guard let n = Int(v), n >= 1, n <= WireProtocol.maxVirtualGPUs else {
                return .failure(RuntimeFailure(CUDAError.initializationError, "\(VirtualGPUEnvironment.virtualGPUs)='\(v)' is not a vGPU count (1…\(WireProtocol.maxVirtualGPUs))"))
            }
            count = n
        }
        if let v = env(VirtualGPUEnvironment.memory) {
            guard let bytes = VirtualGPUEnvironment.parseSize(v) else {
                return .failure(RuntimeFailure(CUDAError.initializationError, "\(VirtualGPUEnvironment.memory)='\(v)' is not a size like 512MiB or 2GiB"))
            }
            memory = bytes
        }
        if let v = env(VirtualGPUEnvironment.compute) {
            guard let pct = Int(v.hasSuffix("%") ? String(v.dropLast()) : v), (0...100).contains(pct) else {
                return .failure(RuntimeFailure(CUDAError.initializationError, "\(VirtualGPUEnvironment.compute)='\(v)' is not a percentage 0…100"))
            }
            compute = pct
        }
        var mode = ComputeMode.share
        if let v = env(VirtualGPUEnvironment.computeMode) {
            guard let m = ComputeMode(parsing: v) else {
                return .failure(RuntimeFailure(CUDAError.initializationError, "\(VirtualGPUEnvironment.computeMode)='\(v)' is not share or limit"))
            }
            mode = m
        }
        // Best effort (no share) runs on idle time; a cap of nothing would never run.
        if compute == 0 { mode = .share }
        var waitMilliseconds = 0
        if let v = env(VirtualGPUEnvironment.wait) {
            guard let seconds = Double(v), seconds >= 0, seconds <= 86_400 else {
                return .failure(RuntimeFailure(CUDAError.initializationError, "\(VirtualGPUEnvironment.wait)='\(v)' is not a number of seconds 0…86400"))
            }
            waitMilliseconds = Int(seconds * 1000)
        }
        let connection: Connection
        switch Connection.connect(to: endpoint) {
        case .success(let c): connection = c
        case .failure(let e): return .failure(RuntimeFailure(CUDAError.noDevice, "\(e.message); no CUDA device is available"))
        }
        // Over TCP the node needs to know who the program is; on the unix socket the kernel tells it.
        let token = connection.isLocal ? nil : env(VirtualGPUEnvironment.token).flatMap { $0.isEmpty ? nil : $0 }
        let hello = Hello(clientPID: getpid(), virtualGPUs: count, memoryBytes: memory, computePercent: compute,
                          programName: Self.programName(), sharesMemory: connection.isLocal, computeMode: mode, acceptsRemoteDevices: true,
                          token: token, waitMilliseconds: waitMilliseconds)
        switch connection.call(hello, { (r) throws(WireError) in try HelloReply(from: &r) }) {
        case .failed(let why):
            connection.close()
            return .failure(RuntimeFailure(CUDAError.noDevice, why))
        case .done(let header, let reply, _):
            guard header.status.isOK, let reply else {
                connection.close()
                let code = header.status.code == .unavailable || header.status.code == .unauthenticated
                    ? CUDAError.devicesUnavailable : CUDAError.from(header.status.code)
                return .failure(RuntimeFailure(code, "the Tessera node refused \(count) vGPU(s) of \(VirtualGPUEnvironment.formatSize(memory)), \(compute) %: \(header.status.message)"))
            }
            var all = reply.devices
            var opened = [connection]
            var owners = [Int](repeating: 0, count: reply.devices.count)
            for group in reply.remote {
                // The home session keeps the remote vGPUs' lease; attach to them on their node.
                switch attach(group, hello: hello, expectedFirst: all.count) {
                case .success(let (remote, infos)):
                    opened.append(remote)
                    owners += [Int](repeating: opened.count - 1, count: infos.count)
                    all += infos
                case .failure(let f):
                    for c in opened { c.close() }
                    return .failure(f)
                }
            }
            devices = all
            links = opened
            deviceLinks = owners
            Log.debug("session \(reply.sessionID) at \(endpoint): \(devices.count) vGPU(s), \(reply.remote.count) other node(s)")
            return .success(connection)
        }
    }

    /// Opens the session on another node for a group of the program's vGPUs.
    private func attach(_ group: RemoteDeviceGroup, hello: Hello, expectedFirst: Int) -> Result<(Connection, [VirtualDeviceInfo]), RuntimeFailure> {
        guard group.firstDevice == expectedFirst else {
            return .failure(RuntimeFailure(CUDAError.noDevice, "the Tessera node listed remote vGPUs out of order"))
        }
        let connection: Connection
        switch Connection.connect(to: group.endpoint) {
        case .success(let c): connection = c
        case .failure(let e): return .failure(RuntimeFailure(CUDAError.noDevice, "\(e.message) (it holds \(group.count) of this program's vGPUs)"))
        }
        var attach = hello
        attach.sharesMemory = false
        attach.virtualGPUs = group.count
        attach.addressWindow = group.addressWindow
        attach.deviceBase = group.firstDevice
        attach.attach = group.credential
        switch connection.call(attach, { (r) throws(WireError) in try HelloReply(from: &r) }) {
        case .failed(let why):
            connection.close()
            return .failure(RuntimeFailure(CUDAError.noDevice, why))
        case .done(let header, let reply, _):
            guard header.status.isOK, let reply, reply.devices.count == group.count, reply.remote.isEmpty else {
                connection.close()
                return .failure(RuntimeFailure(CUDAError.devicesUnavailable,
                                               "the Tessera node at \(group.endpoint) refused this program's \(group.count) vGPU(s): \(header.status.message)"))
            }
            Log.debug("attached to session \(reply.sessionID) at \(group.endpoint): devices \(group.firstDevice)…\(group.firstDevice + group.count - 1)")
            return .success((connection, reply.devices))
        }
    }

    /// The connection to the node of `device` (a device the caller checked is granted).
    @inline(__always)
    package func link(_ device: Int) -> Connection {
        links[deviceLinks[device]]
    }

    /// Whether `c` is the home node's connection (host memory regions are registered there only).
    @inline(__always)
    package func isHome(_ c: Connection) -> Bool { links.first === c }

    private static func programName() -> String {
        let fd = open("/proc/self/comm", O_RDONLY)
        guard fd >= 0 else { return "?" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return "?" }
        return String(decoding: buffer[..<n].filter { $0 != 10 }, as: UTF8.self)
    }

    // MARK: Devices, streams

    /// Checks `device` against the granted vGPUs.
    package func checkDevice(_ device: Int) -> Int32 {
        device >= 0 && device < devices.count ? CUDAError.success : CUDAError.invalidDevice
    }

    /// The device and node handle of a `cudaStream_t` (0, cudaStreamLegacy and cudaStreamPerThread are the
    /// current device's default stream).
    package func resolveStream(_ stream: UInt) -> (device: Int, handle: UInt64)? {
        if stream <= 2 { return (ThreadState.current.device, 0) }
        guard let d = streams[stream] else { return nil }
        return (d, UInt64(stream))
    }

    // MARK: Replies

    /// Turns a synchronous reply into a `cudaError_t`, recording deferred and sticky errors.
    /// - Parameter synchronizing: the call waits for earlier work, so a deferred failure is its result.
    package func outcome<T>(_ reply: Reply<T>, device: Int?, synchronizing: Bool) -> (Int32, T?) {
        switch reply {
        case .failed:
            return (CUDAError.unknown, nil)
        case let .done(header, value, _):
            let own = CUDAError.from(header.status.code)
            let deferred = CUDAError.from(header.deferred.code)
            if own != 0 { Log.debug("node: \(header.status)") }
            if deferred != 0 {
                Log.debug("node (deferred): \(header.deferred)")
                ThreadState.current.lastError = deferred
            }
            if let device {
                if CUDAError.isSticky(own) { stickyErrors[device] = own }
                if CUDAError.isSticky(deferred) { stickyErrors[device] = deferred }
            }
            if own != 0 { return (own, nil) }
            return (synchronizing ? deferred : 0, value)
        }
    }

    /// The sticky error of `device`, if its context is poisoned.
    @inline(__always)
    package func sticky(_ device: Int) -> Int32 { stickyErrors.isEmpty ? 0 : stickyErrors[device] ?? 0 }

    // MARK: Memory bookkeeping

    /// The device whose allocation contains `address`, if any (module variables count as the current device's).
    package func deviceOwning(_ address: UInt) -> Int? {
        let a = UInt64(address)
        if let hit = allocations[a] { return hit.device }
        for (base, v) in allocations where a >= base && a < base + UInt64(v.size) { return v.device }
        for (base, v) in reservations where a >= base && a < base + UInt64(v.size) { return v.device }
        for f in fatbins.values {
            for (device, module) in f.loaded {
                for v in module.variables.values where a >= v.address && a < v.address + UInt64(v.size) { return device }
            }
        }
        return nil
    }

    /// The pinned buffer containing [pointer, pointer + count).
    package func pinnedBuffer(containing pointer: UInt, count: Int) -> PinnedBuffer? {
        for b in pinned where pointer >= b.base && pointer + UInt(count) <= b.base + UInt(b.size) { return b }
        return nil
    }

    /// Where the home node finds [pointer, pointer + count) of this process's memory: in a pinned buffer it maps,
    /// or in registered host memory it maps too (`CU_MEMHOSTREGISTER_DEVICEMAP` on a shared memfd mapping: a
    /// stacked GPU worker's mapping of its node's regions). Copies naming it carry no bytes.
    package func hostRegion(containing pointer: UInt, count: Int) -> (region: UInt64, base: UInt)? {
        if let b = pinnedBuffer(containing: pointer, count: count), let region = b.region { return (region, b.base) }
        for (base, region) in registeredRegions {
            if let size = registeredHost[base], pointer >= base, pointer + UInt(count) <= base + UInt(size) { return (region, base) }
        }
        return nil
    }

    /// The shared staging area for pageable copies (local sessions), created on first use.
    package func stagingBuffer(_ c: Connection) -> PinnedBuffer? {
        guard isHome(c) else { return nil }
        if let staging { return staging }
        guard c.isLocal, case .success(let b) = makePinned(c, size: Self.stagingSize) else { return nil }
        staging = b
        return b
    }

    /// Allocates host memory the node can read and write directly: a sealed memfd mapped here and sent to the
    /// node. Remote sessions get ordinary page-aligned memory.
    package func makePinned(_ c: Connection, size: Int) -> Result<PinnedBuffer, RuntimeFailure> {
        let size = max(size, 1)
        guard c.isLocal else {
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, 4096, size) == 0, let p else { return .failure(RuntimeFailure(CUDAError.memoryAllocation, "")) }
            return .success(PinnedBuffer(base: UInt(bitPattern: p), size: size, region: nil))
        }
        let fd = tessera_memfd_sealed("tessera-pinned", size)
        guard fd >= 0 else { return .failure(RuntimeFailure(CUDAError.memoryAllocation, "memfd: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { return .failure(RuntimeFailure(CUDAError.memoryAllocation, "mmap failed")) }
        let id = nextRegionID
        nextRegionID += 1
        let reply = c.call(RegisterHostMemory(region: id, size: size, address: UInt64(UInt(bitPattern: p))), passing: fd) {
            (r) throws(WireError) in try RegisterHostMemoryReply(from: &r)
        }
        let (e, registered) = outcome(reply, device: nil, synchronizing: false)
        if e == 0, registered?.mapped == true { noteMappedHost(base: UInt(bitPattern: p), size: size) }
        guard e == 0 else {
            munmap(p, size)
            return .failure(RuntimeFailure(e == CUDAError.unknown ? e : CUDAError.memoryAllocation, ""))
        }
        return .success(PinnedBuffer(base: UInt(bitPattern: p), size: size, region: id))
    }

    package func releasePinned(_ c: Connection?, _ b: PinnedBuffer) -> Int32 {
        guard let p = UnsafeMutableRawPointer(bitPattern: b.base) else { return CUDAError.invalidValue }
        guard let region = b.region else {
            Glibc.free(p)
            return 0
        }
        var e: Int32 = 0
        forgetMappedHost(base: b.base)
        if let c {
            (e, _) = outcome(c.call(UnregisterHostMemory(region: region)) { (_) throws(WireError) in () }, device: nil, synchronizing: true)
        }
        munmap(p, b.size)
        return e
    }
}

/// A failure to provide the runtime: a `cudaError_t` and what to tell the user.
package struct RuntimeFailure: Error {
    package var code: Int32
    package var message: String
    package init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Host memory from cudaMallocHost/cudaHostAlloc. `region` is its id at the node when the node maps it.
package struct PinnedBuffer {
    package var base: UInt
    package var size: Int
    package var region: UInt64?
}
