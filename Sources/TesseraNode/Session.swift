#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import Logging
import Synchronization
import TesseraWire

/// Who is on the other end of a session's connection.
public struct PeerIdentity: Sendable, Hashable {
    /// From the kernel (SO_PEERCRED) on a unix socket; -1 on TCP.
    public var pid: Int
    public var uid: Int
    public var gid: Int
    /// "unix" or the TCP peer's address.
    public var address: String

    public init(pid: Int, uid: Int, gid: Int, address: String) {
        self.pid = pid; self.uid = uid; self.gid = gid; self.address = address
    }

    public var isLocal: Bool { address == "unix" }
}

/// One program's connection: it greets, receives its vGPUs, and has its CUDA calls executed, in order, on a
/// dedicated thread. Pipelined requests are not answered; their first failure travels in the next reply.
/// Everything the session holds is released when the connection closes, however it closes.
final class Session: @unchecked Sendable {
    // Shared with other threads (the node's status and hang-up watcher); everything else belongs to the
    // session's own thread.
    let id: UInt64
    let socket: Int32
    let peer: PeerIdentity
    let shared = Mutex<Shared>(Shared())
    struct Shared {
        var programName = ""
        var vgpus: [VGPUShared] = []
        var aborted = false
        /// The greeting was accepted: the session holds vGPUs (here or, through its lease, on other nodes).
        var admitted = false
        /// The socket is closed (its descriptor number may already belong to another connection).
        var closed = false
    }
    struct VGPUShared {
        var physical: Int
        var memory: Int
        var compute: Int
        var mode: ComputeMode
        var context: any DeviceContext
    }

    let node: Node  // strong: a finishing session thread may outlive the service that created it
    let logger: Logger
    var phase = SessionPhase.greeting
    var frames = FrameBuffer(maxBody: WireProtocol.maxRequestBody)
    var out = WireWriter(capacity: 64 << 10)
    var scratch = WireWriter(capacity: 1 << 10)
    var receivedFDs: [Int32] = []
    var sharesMemory = false
    /// The TLS session over `socket` (TCP sessions of a node serving TLS).
    var tls: UnsafeMutableRawPointer?

    struct VGPU {
        var physical: Int
        var memory: Int
        var compute: Int
        var mode: ComputeMode
        var context: any DeviceContext
    }
    var vgpus: [VGPU] = []
    var streams: [UInt64: (device: Int, stream: any DeviceStream)] = [:]
    var events: [UInt64: (device: Int, event: any DeviceEvent)] = [:]
    var modules: [UInt64: (device: Int, module: any DeviceModule)] = [:]
    var regions: [UInt64: HostRegion] = [:]
    var pending: ReplyStatus?
    var nextHandle: UInt64 = 0x100
    /// The program's device index of this session's first vGPU (nonzero for a session attached from another node).
    var deviceBase = 0
    /// The device address window of this session's contexts; stream, event and module handles carry it too, so
    /// they are unique across the program's sessions on several nodes.
    var addressWindow = 0
    var bounce: UnsafeMutableRawPointer?
    private static let bounceSize = WireProtocol.maxInlineChunk

    init(id: UInt64, socket: Int32, peer: PeerIdentity, node: Node, logger: Logger) {
        self.id = id
        self.socket = socket
        self.peer = peer
        self.node = node
        var logger = logger
        logger[metadataKey: "session"] = "\(id)"
        self.logger = logger
    }

    // MARK: Other threads

    /// A snapshot for the node's status.
    func status() -> SessionStatus {
        let paging = node.pager?.status(of: self)
        return shared.withLock { s in
            SessionStatus(
                id: id, programName: s.programName, pid: peer.pid, uid: peer.uid, gid: peer.gid, peer: peer.address,
                virtualGPUs: s.vgpus.map {
                    VirtualGPUStatus(physicalIndex: $0.physical, memoryBytes: $0.memory, computePercent: $0.compute, usedMemory: $0.context.memoryUsed,
                                     computeMode: $0.mode, utilizationBasisPoints: Int(($0.context.utilization * 10_000).rounded()),
                                     busyNanoseconds: $0.context.busyNanoseconds)
                }, paging: paging)
        }
    }

    /// Ends the session from outside (its peer hung up, or the node is stopping): running kernels stop and the
    /// session's memory is freed now, even while its thread is blocked waiting on the device.
    func abort() {
        let contexts = shared.withLock { s -> [any DeviceContext] in
            s.aborted = true
            if !s.closed { shutdown(socket, Int32(SHUT_RDWR)) }
            return s.vgpus.map(\.context)
        }
        for c in contexts { c.destroy() }
    }

    func replaceSharedContext(device: Int, with context: any DeviceContext) {
        shared.withLock { s in if device < s.vgpus.count { s.vgpus[device].context = context } }
    }

    // MARK: The session's thread

    /// Serves the connection until it closes, then releases everything.
    func run() {
        defer { finish() }
        if !peer.isLocal, let ctx = node.tlsContext.withLock({ $0 }) {
            var err = [CChar](repeating: 0, count: 512)
            guard let ssl = tessera_tls_accept(ctx.pointer, socket, &err, err.count) else {
                // Plaintext to the TLS port, a client that does not trust this node, or a scan: nothing to say.
                logger.notice("TLS handshake failed: \(String(nulTerminated: err))", metadata: ["peer": "\(peer.address)"])
                return
            }
            tls = ssl
        }
        do throws(WireError) {
            while phase != .closed, let (header, body) = try nextFrame() {
                try handle(header, body)
                try flush()
            }
        } catch {
            if shared.withLock({ $0.aborted }) { return }
            logger.warning("ending session: \(error)")
            // Tell the peer why before closing; it may already be gone.
            out.reset()
            out.frame(.fatal, requestID: 0) { ReplyStatus(.protocolError, error.description).encode(into: &$0) }
            try? flush()
        }
    }

    private func finish() {
        phase = .closed
        node.sessionEnded(self)
        let contexts = shared.withLock { s -> [any DeviceContext] in
            defer { s.vgpus = [] }
            return s.vgpus.map(\.context)
        }
        for c in contexts { c.destroy() }
        vgpus = []
        streams = [:]
        events = [:]
        modules = [:]
        for r in regions.values { r.unmap() }
        regions = [:]
        for fd in receivedFDs { close(fd) }
        receivedFDs = []
        bounce?.deallocate()
        frames.deallocate()
        shared.withLock { s in
            s.closed = true
            if let tls { tessera_tls_free(tls) }
            close(socket)
        }
        logger.debug("session closed")
    }

    /// The next complete frame, reading as needed; nil at end of stream.
    private func nextFrame() throws(WireError) -> (FrameHeader, UnsafeRawBufferPointer)? {
        while true {
            if let frame = try frames.nextFrame() { return frame }
            let space = frames.writableSpace(minimum: max(16 << 10, try frames.bytesNeeded()))
            var n: Int
            if peer.isLocal {
                var fds = [Int32](repeating: -1, count: 16)
                var count: Int32 = 0
                n = tessera_recv_with_fds(socket, space.baseAddress, space.count, &fds, 16, &count)
                for i in 0..<Int(count) {
                    // A client has no reason to send more descriptors than it registers regions; cap them.
                    if receivedFDs.count < 64 { receivedFDs.append(fds[i]) } else { close(fds[i]) }
                }
            } else {
                if let tls {
                    n = tessera_tls_read(tls, space.baseAddress, space.count)
                } else {
                    repeat { n = read(socket, space.baseAddress, space.count) } while n < 0 && errno == EINTR
                }
            }
            if n <= 0 {
                if n == 0, frames.bufferedCount > 0 {
                    throw WireError(.truncated, "connection closed inside a frame (\(frames.bufferedCount) bytes pending)")
                }
                return nil
            }
            frames.commit(n)
        }
    }

    func flush() throws(WireError) {
        guard out.count > 0 else { return }
        let ok = out.bytes.withUnsafeBytes { writeAll($0) }
        out.reset()
        if !ok { throw WireError(.unexpected, "peer closed the connection") }
    }

    func writeAll(_ b: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < b.count {
            let n = tls.map { tessera_tls_write($0, b.baseAddress! + offset, b.count - offset) }
                ?? send(socket, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR && tls == nil { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    // MARK: Dispatch

    private func handle(_ header: FrameHeader, _ body: UnsafeRawBufferPointer) throws(WireError) {
        switch phase.action(for: header.opcode) {
        case .reject(let why):
            throw WireError(.unexpected, why)
        case .answerStatus:
            let request = try NodeStatusRequest.decode(body)
            // The status names every session's program, owner and user: only for this machine's unix socket,
            // never for anyone who can reach the TCP port.
            guard peer.isLocal else {
                let refusal = DeviceError(.unauthenticated, "the node's status is served only on its unix socket")
                out.frame(.reply, requestID: header.requestID) { w in ReplyHeader(status: refusal.status).encode(into: &w) }
                phase = .closed
                return
            }
            var status = node.status()
            if request.callerOnly {
                status.sessions = status.sessions.filter { s in
                    s.uid == peer.uid && Node.isProcess(s.pid, selfOrDescendantOf: peer.pid)
                }
            }
            out.frame(.reply, requestID: header.requestID) { w in
                ReplyHeader().encode(into: &w)
                status.encode(into: &w)
            }
            if phase == .greeting { phase = .closed }
        case .pageOutSessions:
            let m = try PageOutSessions.decode(body)
            var status = ReplyStatus.ok
            var reply = PageOutSessionsReply(sessions: 0, bytes: 0)
            do throws(DeviceError) { reply = try node.pageOutSessions(of: m.pid, askedBy: peer) } catch { status = error.status }
            out.frame(.reply, requestID: header.requestID) { w in
                ReplyHeader(status: status).encode(into: &w)
                if status.isOK { reply.encode(into: &w) }
            }
            phase = .closed
        case .greet:
            try greet(header, try Hello.decode(body))
        case .execute:
            var r = WireReader(body)
            try execute(header, &r)
        }
    }

    private func greet(_ header: FrameHeader, _ hello: Hello) throws(WireError) {
        sharesMemory = hello.sharesMemory && peer.isLocal
        addressWindow = hello.addressWindow
        // Handles carry the window too, so a program's handles from several nodes never collide.
        nextHandle = UInt64(addressWindow) << 40 | 0x100
        var request = VirtualGPURequest(count: hello.virtualGPUs, memoryBytes: hello.memoryBytes, computePercent: hello.computePercent,
                                        computeMode: hello.computeMode, program: hello.programName,
                                        owner: peer.uid >= 0 ? "uid \(peer.uid)" : peer.address)
        request.waitMilliseconds = hello.waitMilliseconds
        if hello.waitMilliseconds > 0 { request.waiter = QueueWaiter { [self] line in tellWaiting(line) } }
        var identity: SessionIdentity?
        do throws(DeviceError) {
            identity = try node.authenticate(peer, hello)
            if let identity {
                request.identity = identity
                request.owner = identity.user
            }
            let granted: [(Int, any DeviceContext)]
            var remote: [RemoteDeviceGroup] = []
            if let credential = hello.attach {
                // A program attaching to vGPUs its home node obtained here: the lease says what they are.
                deviceBase = hello.deviceBase
                (granted, request) = try node.attach(self, credential, identity: identity, addressWindow: addressWindow)
            } else {
                // Each other node's session gets the next address window; a program has at most maxAddressWindow + 1.
                let allowRemote = hello.acceptsRemoteDevices && addressWindow < WireProtocol.maxAddressWindow
                let placed = try node.admit(self, request, allowRemote: allowRemote, addressWindow: addressWindow)
                // The grant may be sized by what was reserved for this peer rather than by what it asked.
                request = placed.request
                guard addressWindow + placed.remote.count <= WireProtocol.maxAddressWindow else {
                    for (_, context) in placed.local { context.destroy() }
                    node.releaseAdmission(self)
                    throw DeviceError(.unavailable, "the vGPUs span more nodes than a program can address")
                }
                granted = placed.local
                var next = granted.count
                for (i, group) in placed.remote.enumerated() {
                    remote.append(RemoteDeviceGroup(endpoint: group.endpoint, credential: group.credential, firstDevice: next,
                                                    count: group.count, addressWindow: addressWindow + i + 1))
                    next += group.count
                }
            }
            var infos: [VirtualDeviceInfo] = []
            for (gpu, context) in granted {
                vgpus.append(VGPU(physical: gpu, memory: request.memoryBytes, compute: request.computePercent, mode: request.computeMode, context: context))
                var info = node.backend.gpus[gpu].template
                info.totalMemory = request.memoryBytes
                info.computePercent = request.computePercent
                infos.append(info)
            }
            shared.withLock { s in
                s.programName = hello.programName
                s.admitted = true
                s.vgpus = vgpus.map { VGPUShared(physical: $0.physical, memory: $0.memory, compute: $0.compute, mode: $0.mode, context: $0.context) }
            }
            phase = phase.greeted(accepted: true)
            node.pager?.register(self)
            logger.info(hello.attach == nil ? "session started" : "session attached", metadata: [
                "program": "\(hello.programName)", "pid": "\(peer.pid)", "uid": "\(peer.uid)", "peer": "\(peer.address)",
                "vgpus": "\(granted.map(\.0))", "memory": "\(request.memoryBytes >> 20) MiB", "compute": "\(request.computePercent) %",
                "remote": "\(remote.map { "\($0.endpoint)×\($0.count)" })", "lease": "\(hello.attach?.leaseID ?? "")",
                "user": "\(identity.map { who in who.group.map { "\(who.user) (\($0))" } ?? who.user } ?? "")",
            ])
            out.frame(.reply, requestID: header.requestID) { w in
                ReplyHeader().encode(into: &w)
                HelloReply(sessionID: id, devices: infos, remote: remote).encode(into: &w)
            }
        } catch {
            logger.info("refused session: \(error.message)", metadata: ["program": "\(hello.programName)", "pid": "\(peer.pid)", "peer": "\(peer.address)"])
            phase = phase.greeted(accepted: false)
            out.frame(.reply, requestID: header.requestID) { w in ReplyHeader(status: error.status).encode(into: &w) }
        }
    }

    /// Runs one request. Device errors become the reply's status (synchronous) or the pending error
    /// (pipelined); wire errors end the session.
    private func execute(_ header: FrameHeader, _ r: inout WireReader) throws(WireError) {
        scratch.reset()
        let expectsReply = header.flags.contains(.replyExpected)
        var device: Int?
        var status = ReplyStatus.ok
        // A paged session's next request brings its memory back first (waiting for room if it must).
        var paging: DeviceError?
        do throws(DeviceError) { try node.pager?.beginRequest(self) } catch { paging = error }
        defer { node.pager?.endRequest(self) }
        let outcome: Outcome
        if let paging {
            outcome = .failed(paging, device: nil)
            _ = r.rest()
        } else {
            outcome = try perform(header, &r)
        }
        switch outcome {
        case .answered: return
        case .done(let d): device = d
        case .failed(let e, let d): device = d; status = e.status
        }
        try r.expectEnd()
        guard expectsReply else {
            if !status.isOK && pending == nil { pending = status }
            return
        }
        if status.isOK, let d = device, let i = try? slot(d), let sticky = vgpus[i].context.stickyError {
            status = sticky.status
        }
        let deferred = pending ?? .ok
        pending = nil
        if Self.flushesDeviceOutput(header.opcode) { forwardDeviceOutput() }
        out.frame(.reply, requestID: header.requestID) { [scratch] w in
            ReplyHeader(status: status, deferred: deferred).encode(into: &w)
            if status.isOK { scratch.bytes.withUnsafeBytes { w.raw($0) } }
        }
    }
}
