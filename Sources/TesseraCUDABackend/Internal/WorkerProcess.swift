#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import Synchronization
import TesseraDevice
import TesseraWire

/// How the node starts workers: the executable (the `tessera` binary itself) and the arguments before the
/// per-worker ones.
public struct WorkerLauncher: Sendable {
    public var executable: String
    public var arguments: [String]
    public init(executable: String, arguments: [String]) { self.executable = executable; self.arguments = arguments }

    /// The running executable, through /proc/self/exe.
    public static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, 4095)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

/// A worker process the node started, and the node's end of its socketpair. Requests are synchronous (one
/// frame out, one reply frame back) or pipelined (launches: sent, never answered; a failure travels as the next
/// reply's deferred status), under a lock (a session's thread is the only caller but the scheduler's polls and
/// teardown come from elsewhere).
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    private let fd: Int32
    private struct Channel {
        var frames = FrameBuffer(maxBody: WireProtocol.maxReplyBody, initialCapacity: 1 << 20)
        var out = WireWriter(capacity: 1 << 16)
        var nextID: UInt64 = 1
        var failure: DeviceError?
    }
    /// Guarded by `lock` (the frames and the reply decoders are not Sendable, so they stay outside the mutex).
    private var state = Channel()
    private let lock = Mutex<Void>(())
    private let failureFlag = Mutex<DeviceError?>(nil)
    private let ended = Mutex<Bool>(false)

    /// Starts `launcher` with `arguments` and `environment` overrides, its end of a socketpair on
    /// ``WorkerProtocol/descriptor``, and waits for its first frame; returns the worker and that frame's body
    /// (after the reply header), or throws the worker's error.
    static func start(_ launcher: WorkerLauncher, arguments: [String], environment: [String: String],
                      firstReply: (inout WireReader) throws(WireError) -> Void = { (_: inout WireReader) throws(WireError) -> Void in }) throws(DeviceError) -> WorkerProcess {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw DeviceError(.internalError, "socketpair: \(String(cString: strerror(errno)))")
        }
        // The worker's stdout: the driver writes device printf output there (see WorkerOutput).
        var outputPipe: [Int32] = [-1, -1]
        guard tessera_pipe_cloexec(&outputPipe) == 0 else {
            close(pair[0]); close(pair[1])
            throw DeviceError(.internalError, "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], WorkerProtocol.descriptor)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], STDOUT_FILENO)
        var env: [String: String] = [:]
        var e = environ
        while let entry = e.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            e += 1
        }
        for (k, v) in environment { env[k] = v }
        let argv = ([launcher.executable] + launcher.arguments + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, launcher.executable, &actions, nil, argv, envp)
        close(pair[1])
        close(outputPipe[1])
        guard rc == 0 else {
            close(pair[0])
            close(outputPipe[0])
            throw DeviceError(.unavailable, "cannot start the GPU worker \(launcher.executable): \(String(cString: strerror(rc)))")
        }
        let worker = WorkerProcess(pid: pid, fd: pair[0], output: WorkerOutput(readEnd: outputPipe[0]))
        do throws(DeviceError) {
            try worker.receive(expecting: 0, firstReply)
        } catch {
            worker.terminate()
            throw error
        }
        return worker
    }

    /// The worker's stdout (device printf output).
    let output: WorkerOutput

    private init(pid: pid_t, fd: Int32, output: WorkerOutput) { self.pid = pid; self.fd = fd; self.output = output }

    deinit {
        terminate()
        close(fd)
        state.frames.deallocate()
    }

    /// Sends one request (with `descriptor`, when one is given, as SCM_RIGHTS on its first byte) and decodes its
    /// reply with `decode`; a device error in the reply is thrown.
    func call<T>(_ opcode: Opcode, passing descriptor: Int32 = -1, _ body: (inout WireWriter) -> Void,
                 reply decode: (inout WireReader) throws(WireError) -> T) throws(DeviceError) -> T {
        // The result leaves through a local, not as the lock's (sending) result: it may share a region with `body`.
        var result: T?
        try lock.withLock { (_) throws(DeviceError) -> Void in result = try exchange(opcode, descriptor, body, decode) }
        return result!
    }

    /// Sends one request that gets no reply (the worker runs it in order with the others).
    func post(_ opcode: Opcode, _ body: (inout WireWriter) -> Void) throws(DeviceError) {
        try lock.withLock { (_) throws(DeviceError) -> Void in
            if let failure = state.failure { throw failure }
            let id = state.nextID
            state.nextID += 1
            state.out.reset()
            state.out.frame(opcode, requestID: id, body: body)
            let sent = state.out.bytes.withUnsafeBytes { CUDAWorker.sendAll(fd, $0) }
            guard sent else { throw fail() }
        }
    }

    func call<M: WireMessage>(_ message: M, payload: UnsafeRawBufferPointer? = nil, passing descriptor: Int32 = -1) throws(DeviceError) {
        try call(M.opcode, passing: descriptor, { w in
            message.encode(into: &w)
            if let payload { w.raw(payload) }
        }, reply: { (_: inout WireReader) throws(WireError) -> Void in })
    }

    /// One request and its reply; the caller holds `lock`.
    private func exchange<T>(_ opcode: Opcode, _ descriptor: Int32, _ body: (inout WireWriter) -> Void,
                             _ decode: (inout WireReader) throws(WireError) -> T) throws(DeviceError) -> T {
        if let failure = state.failure { throw failure }
        let id = state.nextID
        state.nextID += 1
        state.out.reset()
        state.out.frame(opcode, flags: .replyExpected, requestID: id, body: body)
        let sent = state.out.bytes.withUnsafeBytes { CUDAWorker.sendAll(fd, $0, passing: descriptor) }
        guard sent else { throw fail() }
        return try read(id, decode)
    }

    private func receive(expecting id: UInt64, _ decode: (inout WireReader) throws(WireError) -> Void) throws(DeviceError) {
        try lock.withLock { (_) throws(DeviceError) in try read(id, decode) }
    }

    /// Reads until the reply to `id`; the caller holds `lock`.
    private func read<T>(_ id: UInt64, _ decode: (inout WireReader) throws(WireError) -> T) throws(DeviceError) -> T {
        while true {
            let frame: (header: FrameHeader, body: UnsafeRawBufferPointer)?
            do throws(WireError) { frame = try state.frames.nextFrame() } catch { throw fail(error.description) }
            if let (header, body) = frame {
                guard header.opcode == .reply, header.requestID == id else { throw fail("unexpected frame \(header.opcode)") }
                var r = WireReader(body)
                let h: ReplyHeader
                do throws(WireError) { h = try ReplyHeader(from: &r) } catch { throw fail("bad reply: \(error)") }
                // A pipelined request failed since the last reply: its error is this call's (as a program sees a
                // failed asynchronous launch at its next call).
                guard h.deferred.isOK else { throw DeviceError(h.deferred.code, h.deferred.message) }
                guard h.status.isOK else { throw DeviceError(h.status.code, h.status.message) }
                do throws(WireError) { return try decode(&r) } catch { throw fail("bad reply: \(error)") }
            }
            let space = state.frames.writableSpace(minimum: 64 << 10)
            var n: Int
            repeat { n = Glibc.read(fd, space.baseAddress, space.count) } while n < 0 && errno == EINTR
            guard n > 0 else { throw fail() }
            state.frames.commit(n)
        }
    }

    /// The link broke: the worker exited or crashed. Every later call fails the same way. The caller holds `lock`.
    private func fail(_ why: String? = nil) -> DeviceError {
        if let f = state.failure { return f }
        var status: Int32 = 0
        var how = why ?? "the link closed"
        if waitpid(pid, &status, WNOHANG) == pid {
            ended.withLock { $0 = true }
            let signal = status & 0x7f
            how = signal != 0 ? "killed by signal \(signal)" : "exited with status \((status >> 8) & 0xff)"
        }
        let e = DeviceError(.launchFailure, "the session's GPU worker (pid \(pid)) failed: \(how)")
        state.failure = e
        failureFlag.withLock { $0 = e }
        return e
    }

    /// Whether the worker is known to have failed.
    /// Read without the lock: a call blocked on the worker holds it, and a status poll must not wait for that.
    var failure: DeviceError? { failureFlag.withLock { $0 } }

    /// Kills the worker and reaps it; the driver frees its context and memory. Safe to call twice and while a
    /// call is blocked (that call then fails).
    func terminate() {
        let first = ended.withLock { e -> Bool in
            defer { e = true }
            return !e
        }
        guard first else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

extension CUDAWorker {
    /// Sends all of `b`; a `descriptor` (≥ 0) travels with its first bytes.
    static func sendAll(_ fd: Int32, _ b: UnsafeRawBufferPointer, passing descriptor: Int32 = -1) -> Bool {
        var offset = 0
        if descriptor >= 0, b.count > 0 {
            let n = tessera_send_with_fd(fd, b.baseAddress, b.count, descriptor)
            guard n > 0 else { return false }
            offset = n
        }
        while offset < b.count {
            let n = Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
