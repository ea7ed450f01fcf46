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
        if tcp {
            args += ["--listen", "127.0.0.1:0"] + (allowAnonymous ? ["--allow-anonymous"] : [])
            // TLS unless the test brings its own certificate or asks for plaintext: one of the tests' CA.
            if !backend.contains("--tls-cert") && !backend.contains("--insecure-plaintext") {
                args += ["--tls-cert", TestCA.shared.cert, "--tls-key", TestCA.shared.key]
            }
        }
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

/// A bare socket to the node, for speaking (or abusing) the protocol directly; over TCP it speaks TLS
/// (trusting the tests' CA, or `caFile`) unless `plaintext`.
final class RawConnection {
    let fd: Int32
    private var tls: UnsafeMutableRawPointer?
    private var tlsContext: UnsafeMutableRawPointer?

    init(unix path: String) throws {
        fd = tessera_connect_unix(path)
        guard fd >= 0 else { throw TestFailure("cannot connect to \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A TCP connection to `HOST:PORT`: TLS verified against `caFile` (default the tests' CA), or plain TCP.
    init(tcp endpoint: String, plaintext: Bool = false, caFile: String = TestCA.shared.ca) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int32(endpoint[endpoint.index(after: colon)...]) else {
            throw TestFailure("bad endpoint \(endpoint)")
        }
        let host = String(endpoint[..<colon])
        fd = tessera_connect_tcp(host, port)
        guard fd >= 0 else { throw TestFailure("cannot connect to \(endpoint)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if !plaintext {
            var err = [CChar](repeating: 0, count: 512)
            guard let context = tessera_tls_client_context(caFile, &err, err.count) else {
                close(fd)
                throw TestFailure("TLS context: \(String(nulTerminated: err))")
            }
            tlsContext = context
            guard let session = tessera_tls_connect(context, fd, host, &err, err.count) else {
                tessera_tls_context_free(context)
                close(fd)
                throw TestFailure("TLS to \(endpoint): \(String(nulTerminated: err))")
            }
            tls = session
        }
    }

    deinit {
        if let tls { tessera_tls_free(tls) }
        if let tlsContext { tessera_tls_context_free(tlsContext) }
        close(fd)
    }

    /// Writes or reads through TLS when the connection has it.
    private func write(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        if let tls { return tessera_tls_write(tls, p, n) }
        return Glibc.send(fd, p, n, Int32(MSG_NOSIGNAL))
    }

    private func receive(_ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
        if let tls { return tessera_tls_read(tls, p, n) }
        return recv(fd, p, n, 0)
    }

    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count {
                let n = write(b.baseAddress! + offset, b.count - offset)
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
        let n = receive(&byte, 1)
        return (frames, n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
    }

    private func read(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out.withUnsafeMutableBytes { receive($0.baseAddress! + offset, count - offset) }
            if n <= 0 { return nil }
            offset += n
        }
        return out
    }
}
