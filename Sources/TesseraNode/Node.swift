#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import Logging
import ServiceLifecycle
import Synchronization
import TesseraWire

/// The per-node daemon: owns the node's GPUs through a ``DeviceBackend``, listens for programs on a unix socket
/// and on TCP, and serves each connection as a session on its own thread.
///
/// Runs as a ServiceLifecycle `Service`: graceful shutdown stops the listeners and ends every session.
public final class Node: Service, Sendable {
    public let backend: any DeviceBackend
    public let configuration: NodeConfiguration
    let policy: any PlacementPolicy
    /// Verifies user tokens of TCP sessions; nil on a standalone node.
    let authenticator: (any SessionAuthenticator)?
    /// The TLS server context for TCP sessions, once listening with ``NodeConfiguration/tls``.
    let tlsContext = Mutex<TLSContext?>(nil)
    let logger: Logger
    /// Pages idle sessions out when requests do not fit; nil when the node does not page.
    let pager: Pager?

    struct State {
        var ledger: NodeLedger
        var sessions: [UInt64: Session] = [:]
        var nextSessionID: UInt64 = 1
        var listeners: [Int32] = []
        var stopping = false
        var authenticationFailures: AuthenticationLimiter
    }
    let state: Mutex<State>
    private let watcher: Int32
    /// The TCP port actually bound (useful with port 0), once listening.
    public let boundTCPPort = Atomic<Int>(0)
    private let ready = Atomic<Bool>(false)

    public init(configuration: NodeConfiguration, backend: any DeviceBackend, policy: any PlacementPolicy = SpreadPlacement(),
                authenticator: (any SessionAuthenticator)? = nil, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.policy = policy
        self.authenticator = authenticator
        self.logger = logger
        if let paging = configuration.paging, !backend.supportsPaging {
            logger.warning("this node's GPU backend cannot page memory out; --page-idle-after \(paging.idleAfterSeconds) is ignored")
        }
        pager = configuration.paging.flatMap { backend.supportsPaging ? Pager(configuration: $0, backend: backend, logger: logger) : nil }
        // With paging, vGPU quotas may together exceed a GPU's memory: admission counts physical memory instead.
        state = Mutex(State(ledger: NodeLedger(gpus: backend.gpus.map { ($0.index, $0.totalMemory) },
                                               contextOverhead: Dictionary(uniqueKeysWithValues: backend.gpus.map { ($0.index, $0.contextOverhead) }),
                                               overcommitsMemory: pager != nil),
                            authenticationFailures: AuthenticationLimiter(limit: configuration.authenticationFailureLimit,
                                                                          window: configuration.authenticationFailureWindow)))
        watcher = tessera_hangup_watcher_create()
    }

    /// Whether the listeners are up.
    public var isListening: Bool { ready.load(ordering: .acquiring) }

    public func run() async throws {
        try startListening()
        // Serve until graceful shutdown or cancellation.
        try? await gracefulShutdown()
        stop()
    }

    /// Opens the listeners and starts the accept and hang-up threads.
    public func startListening() throws(NodeError) {
        if let path = configuration.socketPath {
            let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !dir.isEmpty { mkdir(dir, 0o755) }
            let fd = tessera_listen_unix(path, Int32(configuration.backlog))
            guard fd >= 0 else { throw NodeError("cannot listen on unix socket \(path): \(String(cString: strerror(errno)))") }
            chmod(path, 0o666)  // any local user may ask for vGPUs; the node knows each peer from the kernel
            state.withLock { $0.listeners.append(fd) }
            logger.info("listening on unix socket \(path)")
            NodeThread.start { [self] in acceptLoop(fd, local: true) }
        }
        if let (host, port) = configuration.listen {
            if let tls = configuration.tls {
                var err = [CChar](repeating: 0, count: 512)
                guard let ctx = tessera_tls_server_context(tls.certificate, tls.key, &err, err.count) else {
                    throw NodeError("cannot serve TLS: \(String(nulTerminated: err))")
                }
                tlsContext.withLock { $0 = TLSContext(ctx) }
                // OpenSSL writes without MSG_NOSIGNAL: a peer that hangs up must not kill the node.
                tessera_tls_ignore_sigpipe()
            }
            var bound: Int32 = 0
            let fd = tessera_listen_tcp(host, Int32(port), Int32(configuration.backlog), &bound)
            guard fd >= 0 else { throw NodeError("cannot listen on \(host):\(port): \(String(cString: strerror(errno)))") }
            boundTCPPort.store(Int(bound), ordering: .releasing)
            state.withLock { $0.listeners.append(fd) }
            logger.info("listening on tcp \(host):\(bound)\(configuration.tls == nil ? " (plaintext)" : " (TLS)")")
            if configuration.allowAnonymous {
                logger.warning("--allow-anonymous: TCP sessions without a token are admitted; anyone who can reach \(host):\(bound) can take this node's GPUs")
            }
            NodeThread.start { [self] in acceptLoop(fd, local: false) }
        }
        NodeThread.start { [self] in watchHangups() }
        ready.store(true, ordering: .releasing)
    }

    /// Stops listening and ends every session, releasing what they hold.
    public func stop() {
        let (listeners, sessions) = state.withLock { s -> ([Int32], [Session]) in
            s.stopping = true
            defer { s.listeners = [] }
            return (s.listeners, Array(s.sessions.values))
        }
        for fd in listeners {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        if let path = configuration.socketPath { unlink(path) }
        // A session whose kernel is still running takes until it stops; do not hold up the shutdown for it.
        for s in sessions { NodeThread.start { s.abort() } }
        logger.info("node stopped")
    }

    private func acceptLoop(_ listener: Int32, local: Bool) {
        while true {
            let fd = tessera_accept(listener)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE {
                    if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                    continue
                }
                return  // listener closed
            }
            var peer = PeerIdentity(pid: -1, uid: -1, gid: -1, address: "unix")
            if local {
                var pid: Int32 = -1, uid: Int32 = -1, gid: Int32 = -1
                if tessera_peer_credentials(fd, &pid, &uid, &gid) == 0 {
                    peer.pid = Int(pid); peer.uid = Int(uid); peer.gid = Int(gid)
                }
            } else {
                tessera_tcp_nodelay(fd)
                var buffer = [CChar](repeating: 0, count: 128)
                if tessera_peer_address(fd, &buffer, buffer.count) == 0 {
                    peer.address = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                } else {
                    peer.address = "tcp"
                }
            }
            let session: Session? = state.withLock { s in
                guard !s.stopping else { return nil }
                let id = s.nextSessionID
                s.nextSessionID += 1
                let session = Session(id: id, socket: fd, peer: peer, node: self, logger: logger)
                s.sessions[id] = session
                return session
            }
            guard let session else { close(fd); return }
            tessera_hangup_watcher_add(watcher, fd, session.id)
            NodeThread.start { session.run() }
        }
    }

    /// Notices peers that hang up while their session thread is blocked on the device (a SIGKILLed program
    /// in the middle of cudaDeviceSynchronize) and frees their resources at once.
    private func watchHangups() {
        var tokens = [UInt64](repeating: 0, count: 64)
        while !state.withLock({ $0.stopping }) {
            let n = tessera_hangup_watcher_wait(watcher, &tokens, 64, 200)
            guard n > 0 else { continue }
            for id in tokens.prefix(Int(n)) {
                guard let session = state.withLock({ $0.sessions[id] }) else { continue }
                tessera_hangup_watcher_remove(watcher, session.socket)
                logger.debug("peer hung up", metadata: ["session": "\(id)"])
                // Tearing a context down waits for its running kernel to stop; never hold up this thread with it.
                NodeThread.start { session.abort() }
            }
        }
    }

    // MARK: Sessions

    /// Places a session's vGPUs and opens a context on each local one, or throws why not. With `allowRemote`
    /// (the program's runtime attaches to other nodes itself) a pool node may place vGPUs elsewhere too.
    ///
    /// The policy may ask a controller: it runs outside the state lock; the ledger then records the result,
    /// checking it against what other sessions were granted meanwhile. Returns what was granted: the policy may
    /// size it differently from what was asked (a pod's reservation).
    func admit(_ session: Session, _ asked: VirtualGPURequest, allowRemote: Bool, addressWindow: Int)
        throws(DeviceError) -> (request: VirtualGPURequest, local: [(Int, any DeviceContext)], remote: [RemotePlacement]) {
        var attempt = 0
        while true {
            attempt += 1
            let inventory = try state.withLock { (s) throws(DeviceError) -> [GPUCapacity] in
                guard !s.stopping else { throw DeviceError(.unavailable, "the node is shutting down") }
                return s.ledger.capacity
            }
            let placement: SessionPlacement
            do throws(PlacementError) {
                if let pager {
                    placement = try placePaging(asked, session: session, allowRemote: allowRemote, inventory: inventory, pager: pager)
                } else {
                    placement = try policy.placeSession(asked, session: session.id, peer: session.peer, allowRemote: allowRemote,
                                                        on: inventory)
                }
            } catch {
                throw DeviceError(.unavailable, error.message)
            }
            let request = placement.granted ?? asked
            let placed = placement.local.count + placement.remote.reduce(0) { $0 + $1.count }
            do throws(PlacementError) {
                guard placed == request.count else { throw PlacementError("placement returned \(placed) vGPUs for \(request.count)") }
                try state.withLock { (s) throws(PlacementError) in try s.ledger.commit(session: session.id, request, gpus: placement.local) }
            } catch {
                policy.sessionEnded(session.id)
                // Another session took the capacity between placing and recording: place again.
                if attempt < 4 && placed == request.count { continue }
                throw DeviceError(.unavailable, error.message)
            }
            let local = try openContexts(session, placement.local, memory: request.memoryBytes, compute: request.computePercent,
                                         mode: request.computeMode, addressWindow: addressWindow)
            return (request, local, placement.remote)
        }
    }

    /// Binds a session to vGPUs of this node that another node's lease holds for the same program, once the
    /// pool confirms the credential.
    func attach(_ session: Session, _ credential: AttachCredential, identity: SessionIdentity?,
                addressWindow: Int) throws(DeviceError) -> (contexts: [(Int, any DeviceContext)], request: VirtualGPURequest) {
        try state.withLock { (s) throws(DeviceError) in
            guard !s.stopping else { throw DeviceError(.unavailable, "the node is shutting down") }
        }
        let bound: AttachedVirtualGPUs
        do throws(PlacementError) {
            bound = try policy.attach(credential, session: session.id, identity: identity)
        } catch {
            // A wrong, replayed or another user's credential is a failed authentication; a refusal for another
            // reason (the controller unreachable) says nothing about the credential and is not counted.
            policy.sessionEnded(session.id)
            if error.rejectedCredential { authenticationFailed(session.peer) }
            throw DeviceError(error.rejectedCredential ? .unauthenticated : .unavailable, error.message)
        }
        do throws(PlacementError) {
            try state.withLock { (s) throws(PlacementError) in try s.ledger.commit(session: session.id, bound.request, gpus: bound.gpus) }
        } catch {
            policy.sessionEnded(session.id)
            throw DeviceError(.unavailable, error.message)
        }
        let r = bound.request
        return (try openContexts(session, bound.gpus, memory: r.memoryBytes, compute: r.computePercent, mode: r.computeMode,
                                 addressWindow: addressWindow), r)
    }

    private func openContexts(_ session: Session, _ gpus: [Int], memory: Int, compute: Int, mode: ComputeMode,
                              addressWindow: Int) throws(DeviceError) -> [(Int, any DeviceContext)] {
        var contexts: [(Int, any DeviceContext)] = []
        do throws(DeviceError) {
            for g in gpus {
                contexts.append((g, try backend.makeContext(gpu: g, memoryLimit: memory, computePercent: compute, computeMode: mode,
                                                            addressWindow: addressWindow)))
            }
        } catch {
            for (_, c) in contexts { c.destroy() }
            state.withLock { $0.ledger.release(session: session.id) }
            policy.sessionEnded(session.id)
            throw error
        }
        return contexts
    }

    /// Undoes an admission the session will not use: frees its ledger grant and, in a pool, its lease.
    func releaseAdmission(_ session: Session) {
        state.withLock { $0.ledger.release(session: session.id) }
        policy.sessionEnded(session.id)
    }

    func sessionEnded(_ session: Session) {
        pager?.unregister(session)
        tessera_hangup_watcher_remove(watcher, session.socket)
        let held = state.withLock { s in
            s.sessions[session.id] = nil
            defer { s.ledger.release(session: session.id) }
            return s.ledger.grants[session.id] != nil
        }
        // Outside the lock: a pool node tells the controller.
        if held { policy.sessionEnded(session.id) }
    }

    /// GPUs and sessions as they are now.
    public func status() -> NodeStatusReply {
        let (capacity, sessions) = state.withLock { ($0.ledger.capacity, Array($0.sessions.values)) }
        let gpus = backend.gpus.map { g in
            let c = capacity.first { $0.index == g.index }
            return GPUStatus(index: g.index, name: g.name, totalMemory: g.totalMemory, usedMemory: backend.memoryUsed(gpu: g.index),
                             grantedMemory: c?.grantedMemory ?? 0, grantedComputePercent: c?.grantedComputePercent ?? 0,
                             simulated: g.simulated)
        }
        // Sessions that hold vGPUs (a session whose vGPUs are all on other nodes holds none here but is reported).
        let admitted = sessions.filter { $0.shared.withLock { $0.admitted } }
        return NodeStatusReply(gpus: gpus, sessions: admitted.map { $0.status() }.sorted { $0.id < $1.id },
                               pageIdleAfterMilliseconds: pager.map { Int($0.idleAfterNanoseconds / 1_000_000) },
                               pagedBytesHeld: pager.map { $0.store.heldBytes.host + $0.store.heldBytes.file } ?? 0)
    }
}

/// A node that cannot start (a socket it cannot bind, a bad configuration).
public struct NodeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
