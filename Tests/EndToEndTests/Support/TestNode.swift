import CTesseraPOSIX
import Foundation
import TesseraWire

/// A real `tessera node` process with simulated GPUs, on its own socket in a fresh directory.
final class TestNode: @unchecked Sendable {
    let directory: URL
    let socketPath: String
    private(set) var tcpEndpoint: String?
    let process: RunningCommand

    convenience init(gpus: Int = 1, memory: String = "1GiB", tcp: Bool = false, allowAnonymous: Bool = true) throws {
        try self.init(backend: ["--sim-gpus", "\(gpus)", "--sim-gpu-memory", memory], tcp: tcp, allowAnonymous: allowAnonymous)
    }

    /// A node with the backend `backend` names (`--sim-gpus …` or `--gpus …`) and extra environment. With `tcp`
    /// it also listens on loopback, admitting anonymous TCP sessions unless `allowAnonymous` is false.
    init(backend: [String], environment: [String: String] = [:], tcp: Bool = false, allowAnonymous: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-node-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("node.sock").path
        var args = ["node", "--socket", socketPath] + backend + ["--log-level", "debug"]
        if tcp { args += ["--listen", "127.0.0.1:0"] + (allowAnonymous ? ["--allow-anonymous"] : []) }
        process = Command.start(Products.tessera.path, args, environment: environment)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let log = process.stderr
            let haveSocket = FileManager.default.fileExists(atPath: socketPath)
            if haveSocket, !tcp { return }
            if haveSocket, let range = log.range(of: "listening on tcp 127.0.0.1:") {
                let port = log[range.upperBound...].prefix { $0.isNumber }
                if !port.isEmpty {
                    tcpEndpoint = "127.0.0.1:\(port)"
                    return
                }
            }
            guard process.process.isRunning else { break }
            usleep(20_000)
        }
        throw TestFailure("node did not start:\n\(process.stderr)")
    }

    deinit {
        kill(process.pid, SIGTERM)
        _ = process.finish(timeout: 10)
        try? FileManager.default.removeItem(at: directory)
    }

    var isRunning: Bool { process.process.isRunning }
    var log: String { process.stderr }

    /// Runs a sample under `tessera run`.
    func run(_ sample: String, _ arguments: [String] = [], vgpus: Int = 1, memory: String = "64MiB", compute: Int = 5,
             endpoint: String? = nil, timeout: Double = 120) -> CommandResult {
        Command.run(Products.tessera.path, runArguments(sample, arguments, vgpus: vgpus, memory: memory, compute: compute, endpoint: endpoint),
                    timeout: timeout)
    }

    func start(_ sample: String, _ arguments: [String] = [], vgpus: Int = 1, memory: String = "64MiB", compute: Int = 5,
               computeMode: ComputeMode = .share) -> RunningCommand {
        var args = runArguments(sample, arguments, vgpus: vgpus, memory: memory, compute: compute, endpoint: nil)
        args.insert(contentsOf: ["--compute-mode", computeMode.description], at: 1)
        return Command.start(Products.tessera.path, args)
    }

    private func runArguments(_ sample: String, _ arguments: [String], vgpus: Int, memory: String, compute: Int, endpoint: String?) -> [String] {
        ["run", "--endpoint", endpoint ?? socketPath, "--vgpus", "\(vgpus)", "--memory", memory, "--compute", "\(compute)", "--",
         Products.sample(sample)] + arguments
    }

    /// The node's GPUs and sessions, asked over the wire.
    func status() throws -> NodeStatusReply {
        let c = try RawConnection(unix: socketPath)
        var w = WireWriter()
        w.frame(NodeStatusRequest(), flags: .replyExpected, requestID: 1)
        c.send(w.bytes)
        guard let (header, body) = c.receiveFrame(), header.opcode == .reply else { throw TestFailure("no status reply") }
        return try body.withUnsafeBytes { b in
            var r = WireReader(b)
            let h = try ReplyHeader(from: &r)
            guard h.status.isOK else { throw TestFailure("status failed: \(h.status)") }
            return try NodeStatusReply(from: &r)
        }
    }

    /// Waits until `condition` holds for the node's status, up to `timeout` seconds; returns the last status.
    func waitForStatus(timeout: Double, _ condition: (NodeStatusReply) -> Bool) throws -> (NodeStatusReply, Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try status()
        while !condition(last) {
            if Date() >= deadline { return (last, false) }
            usleep(10_000)
            last = try status()
        }
        return (last, true)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A bare socket to the node, for speaking (or abusing) the protocol directly, in plaintext or over TLS.
final class RawConnection {
    let fd: Int32
    /// The TLS session over `fd`, for a connection made with ``init(tls:caFile:)``.
    private var tls: UnsafeMutableRawPointer?
    private var tlsContext: UnsafeMutableRawPointer?

    init(unix path: String) throws {
        fd = tessera_connect_unix(path)
        guard fd >= 0 else { throw TestFailure("cannot connect to \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A TCP connection to `HOST:PORT`.
    init(tcp endpoint: String) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int32(endpoint[endpoint.index(after: colon)...]) else {
            throw TestFailure("bad endpoint \(endpoint)")
        }
        fd = tessera_connect_tcp(String(endpoint[..<colon]), port)
        guard fd >= 0 else { throw TestFailure("cannot connect to \(endpoint)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A TCP connection to `HOST:PORT` over TLS, trusting the CA bundle `caFile`.
    convenience init(tls endpoint: String, caFile: String) throws {
        try self.init(tcp: endpoint)
        var error = [CChar](repeating: 0, count: 512)
        guard let context = tessera_tls_client_context(caFile, &error, error.count) else {
            throw TestFailure(String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        tlsContext = context
        let host = String(endpoint[..<endpoint.lastIndex(of: ":")!])
        guard let session = tessera_tls_connect(context, fd, host, &error, error.count) else {
            throw TestFailure(String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        tls = session
    }

    deinit {
        tessera_tls_free(tls)
        tessera_tls_context_free(tlsContext)
        close(fd)
    }

    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count {
                let n = tls.map { tessera_tls_write($0, b.baseAddress! + offset, b.count - offset) }
                    ?? Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                offset += n
            }
        }
    }

    /// Reads one frame; nil at end of stream (or after the receive timeout).
    func receiveFrame() -> (FrameHeader, [UInt8])? {
        guard let head = read(WireProtocol.headerSize),
              let header = try? head.withUnsafeBytes({ try FrameHeader.decode($0, maxBody: WireProtocol.maxReplyBody) }),
              let body = read(header.bodyLength) else { return nil }
        return (header, body)
    }

    /// Reads until the node closes the connection; returns the frames it sent and whether it closed.
    func drain() -> (frames: [(FrameHeader, [UInt8])], closed: Bool) {
        var frames: [(FrameHeader, [UInt8])] = []
        while let f = receiveFrame() { frames.append(f) }
        var byte: UInt8 = 0
        let n = tls.map { tessera_tls_read($0, &byte, 1) } ?? recv(fd, &byte, 1, 0)
        return (frames, n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
    }

    private func read(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out.withUnsafeMutableBytes { b in
                tls.map { tessera_tls_read($0, b.baseAddress! + offset, count - offset) } ?? recv(fd, b.baseAddress! + offset, count - offset, 0)
            }
            if n <= 0 { return nil }
            offset += n
        }
        return out
    }
}
