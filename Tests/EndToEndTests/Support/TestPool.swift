import Foundation
import TesseraPoolAPI
import TesseraWire

/// A real `tessera controller` process on loopback with its state in a fresh directory.
final class TestController: @unchecked Sendable {
    static let adminToken = "admin-secret"
    static let nodeToken = "node-secret"
    /// The scheduler extender's token (`tessera scheduler --controller-token-file`).
    static let schedulerToken = "scheduler-secret"
    /// A read-only monitoring token (`/metrics`, the dashboard's views).
    static let metricsToken = "metrics-secret"
    let directory: URL
    let statePath: String
    private(set) var process: RunningCommand!
    private(set) var url = ""

    /// The CA bundle the API's and the nodes' certificates chain to: the tests' CA, or with `ownCA` the one the
    /// controller makes in its state folder; nil for a plaintext controller.
    let caFile: String?
    let ownCA: Bool

    init(directory: URL? = nil, nodeTimeout: Double = 2, extraArguments: [String] = [], ownCA: Bool = false) throws {
        self.extraArguments = extraArguments
        self.ownCA = ownCA
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("tessera-pool-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        statePath = self.directory.appendingPathComponent("state.sqlite").path
        caFile = extraArguments.contains("--insecure-plaintext") ? nil
            : ownCA ? self.directory.appendingPathComponent("ca.pem").path : TestCA.shared.ca
        try Data("\(TestController.adminToken)\n".utf8).write(to: self.directory.appendingPathComponent("admin.tokens"))
        try Data("\(TestController.nodeToken)\n".utf8).write(to: self.directory.appendingPathComponent("node.tokens"))
        try Data("\(TestController.schedulerToken)\n".utf8).write(to: self.directory.appendingPathComponent("scheduler.tokens"))
        try Data("\(TestController.metricsToken)\n".utf8).write(to: self.directory.appendingPathComponent("metrics.tokens"))
        self.nodeTimeout = nodeTimeout
        try start()
    }

    let nodeTimeout: Double
    let extraArguments: [String]

    /// Starts (or restarts) the controller process on a fresh port with the same state.
    func start() throws {
        process = Command.start(Products.tessera.path, [
            "controller", "--listen", "127.0.0.1:0", "--state", statePath,
            "--admin-token-file", directory.appendingPathComponent("admin.tokens").path,
            "--node-token-file", directory.appendingPathComponent("node.tokens").path,
            "--scheduler-token-file", directory.appendingPathComponent("scheduler.tokens").path,
            "--metrics-token-file", directory.appendingPathComponent("metrics.tokens").path,
            "--node-timeout", "\(nodeTimeout)",
        ] + (ownCA || caFile == nil ? [] : ["--ca-cert", TestCA.shared.ca, "--ca-key", TestCA.shared.caKey]) + extraArguments)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let log = process.stderr
            if let range = log.range(of: "listening on 127.0.0.1:") {
                let port = log[range.upperBound...].prefix { $0.isNumber }
                if !port.isEmpty { url = "\(caFile == nil ? "http" : "https")://127.0.0.1:\(port)"; return }
            }
            guard process.process.isRunning else { break }
            usleep(20_000)
        }
        throw TestFailure("controller did not start:\n\(process.stderr)")
    }

    func kill9() { process.signalAndWait(SIGKILL) }

    deinit {
        process.signalAndWait(SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    /// The API as the admin sees it; blocking, like the rest of this synchronous harness.
    var admin: BlockingControllerClient { client(token: TestController.adminToken) }

    /// The API with `token`, verifying the controller against ``caFile``.
    func client(token: String) -> BlockingControllerClient { ControllerClient(baseURL: url, token: token, caFile: caFile).blocking }

    /// The environment its clients and nodes need: `TESSERA_CA` = ``caFile``.
    var environment: [String: String] { ["TESSERA_CA": caFile ?? ""] }

    /// Runs a CLI command against this controller with the admin token in the environment.
    func cli(_ arguments: [String], token: String = TestController.adminToken) -> CommandResult {
        Command.run(Products.tessera.path, arguments + ["--controller", url], environment: environment.merging(["TESSERA_TOKEN": token]) { $1 },
                    timeout: 30)
    }

    /// Polls until `condition` holds, up to `timeout` seconds.
    func wait(timeout: Double = 15, _ condition: () throws -> Bool) -> Bool {
        Self.poll(timeout: timeout, condition)
    }

    /// Polls until `condition` holds, up to `timeout` seconds.
    static func poll(timeout: Double = 15, _ condition: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            usleep(50_000)
        }
        return false
    }
}

/// A real `tessera node` that joins a controller's pool, serving simulated GPUs on a socket and on TCP.
final class PoolNode: @unchecked Sendable {
    let name: String
    let directory: URL
    let socketPath: String
    let process: RunningCommand
    /// The pool's CA bundle, for programs reaching nodes over TCP.
    let caFile: String?

    init(_ name: String, controller: TestController, gpus: Int = 1, memory: String = "1GiB", extraArguments: [String] = []) throws {
        caFile = controller.caFile
        self.name = name
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("node.sock").path
        let tokenFile = directory.appendingPathComponent("token").path
        try Data(TestController.nodeToken.utf8).write(to: URL(fileURLWithPath: tokenFile))
        process = Command.start(Products.tessera.path, [
            "node", "--controller", controller.url, "--node-token-file", tokenFile, "--name", name,
            "--socket", socketPath, "--listen", "127.0.0.1:0", "--sim-gpus", "\(gpus)", "--sim-gpu-memory", memory,
            "--heartbeat-interval", "0.3",
        ] + (controller.caFile == nil ? ["--insecure-plaintext"] : []) + extraArguments,
            // Its issued key and certificate go into this node's folder, removed with it even after a SIGKILL.
            environment: controller.environment.merging(["TMPDIR": directory.path]) { $1 })
        guard controller.wait(timeout: 30, { try controller.admin.get("/v1/nodes", as: [NodeInfo].self).contains { $0.name == name && $0.state == .up } }) else {
            throw TestFailure("node \(name) did not join:\n\(process.stderr)")
        }
    }

    func kill9() { process.signalAndWait(SIGKILL) }

    deinit {
        process.signalAndWait(SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    func start(_ sample: String, _ arguments: [String], vgpus: Int = 1, memory: String = "64MiB", compute: Int = 10,
               computeMode: ComputeMode = .share) -> RunningCommand {
        Command.start(Products.tessera.path, ["run", "--endpoint", socketPath, "--vgpus", "\(vgpus)", "--memory", memory,
                                              "--compute", "\(compute)", "--compute-mode", computeMode.description, "--",
                                              Products.sample(sample)] + arguments, environment: ["TESSERA_CA": caFile ?? ""])
    }

    func run(_ sample: String, _ arguments: [String] = [], vgpus: Int = 1, memory: String = "64MiB", compute: Int = 10) -> CommandResult {
        start(sample, arguments, vgpus: vgpus, memory: memory, compute: compute).finish(timeout: 120)
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
}

extension RunningCommand {
    /// Sends `signal` and waits for the process to end.
    func signalAndWait(_ signal: Int32) {
        kill(pid, signal)
        _ = finish(timeout: 10)
    }
}
