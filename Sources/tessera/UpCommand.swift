import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TesseraController
import TesseraNode
import TesseraNodeAgent
import TesseraPoolAPI
import TesseraSimBackend
import TesseraWire

/// `tessera up`: a whole pool on this machine in one process — a controller and one node with simulated GPUs —
/// so that `tessera run … -- ./program` and `tessera status` work from another terminal.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run a one-machine pool: controller plus a node with simulated GPUs.",
        discussion: """
            State (SQLite database and tokens) lives in $XDG_STATE_HOME/tessera or ~/.local/state/tessera; the admin
            token and the controller's URL are written to ~/.config/tessera/cli.json for the CLI.
            """
    )

    @Option(help: "Address of the controller's HTTP API.") var listen: String = "127.0.0.1:7080"
    @Option(help: "Unix socket for local programs.") var socket: String = NodeConfiguration.defaultSocketPath
    @Option(name: .customLong("sim-gpus"), help: "Number of simulated GPUs.") var simGPUs: Int = 2
    @Option(name: .customLong("sim-gpu-memory"), help: "Memory of each simulated GPU.") var simGPUMemory: String = "16GiB"
    @Option(help: "Model of the simulated GPUs: \(SimulatedModel.allNames).") var simGPUModel: String = "h100"
    @Option(help: "Placement policy: tessera, binpack, spread, …") var policy: String = "tessera"
    @Option(help: "Log level.") var logLevel: String = "notice"

    static var stateDirectory: String {
        (ProcessInfo.processInfo.environment["XDG_STATE_HOME"] ?? (NSHomeDirectory() + "/.local/state")) + "/tessera"
    }

    /// A token kept in `path`, made on first use (readable by the user only).
    static func token(at path: String) throws -> String {
        if let existing = try? readToken(path) { return existing }
        var bytes = [UInt8](repeating: 0, count: 24)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(path)")
        }
        return token
    }

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen must be HOST:PORT")
        }
        let host = String(listen[..<colon]).trimmingBrackets
        guard let memory = VirtualGPUEnvironment.parseSize(simGPUMemory) else { throw ValidationError("--sim-gpu-memory: bad size '\(simGPUMemory)'") }
        guard let model = SimulatedModel(name: simGPUModel) else { throw ValidationError("--sim-gpu-model: unknown model '\(simGPUModel)'") }
        let strategy: PlacementStrategy
        do { strategy = try PlacementStrategy(name: policy) } catch { throw ValidationError("\(error)") }
        let state = UpCommand.stateDirectory
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let admin = try UpCommand.token(at: state + "/admin.token")
        let nodeToken = try UpCommand.token(at: state + "/node.token")
        let dialled = host == "0.0.0.0" ? "127.0.0.1" : host
        let url = "https://\(dialled.contains(":") ? "[\(dialled)]" : dialled):\(port)"
        // HTTPS with the pool CA of the state folder (made at the first start, reused after).
        let tls: ControllerTLS
        do throws(CertificateAuthority.Failure) { tls = try ControllerTLS.poolCA(stateDirectory: state, listenHost: host, extraHosts: []).0 } catch {
            throw ValidationError("TLS: \(error.message)")
        }
        let caFile = CertificateAuthority.paths(in: state).certificate
        let config = PoolOptions.configPath
        try FileManager.default.createDirectory(atPath: (config as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: config, contents: try JSONEncoder().encode(PoolOptions.ConfigFile(controller: url, token: admin, caFile: caFile)),
                                       attributes: [.posixPermissions: 0o600])
        bootstrapLogging(logLevel)
        let logger = Logger(label: "tessera.up")
        var controllerConfiguration = ControllerConfiguration(host: host, port: port, statePath: state + "/controller.sqlite", adminTokens: [admin],
                                                              nodeTokens: [nodeToken], strategy: strategy)
        controllerConfiguration.tls = tls
        let controller = try Controller(configuration: controllerConfiguration, logger: logger)
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: controller.registry))
        let backend = SimulatedBackend(count: simGPUs, properties: model.properties(memory: memory))
        let placement = ControllerPlacement(client: ControllerClient(baseURL: url, token: nodeToken, caFile: caFile), nodeName: ProcessInfo.processInfo.hostName)
        let node = Node(configuration: NodeConfiguration(socketPath: socket), backend: backend, policy: placement, logger: logger)
        let link = ControllerLink(node: node, placement: placement, advertise: nil, interval: 1, logger: logger)
        print("""
            tessera up: controller at \(url), node \(placement.nodeName) with \(simGPUs) simulated GPU(s) of \(simGPUMemory), socket \(socket)
            state in \(state); CLI configured in \(config); pool CA (TESSERA_CA) \(caFile)
            dashboard: \(url)/ (sign in with the admin token in \(state)/admin.token; the browser needs the pool CA)
            try: tessera run --memory 1GiB --compute 25 -- ./program      and: tessera top
            """)
        let group = ServiceGroup(services: try ControllerServer.services(controller, logger: logger) + [node, link],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
