import ArgumentParser
import Logging
import ServiceLifecycle
import TesseraDevicePlugin
import TesseraNode
import TesseraSim
import TesseraWire

/// `tessera node`: the per-node daemon.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run the node daemon: serve vGPU sessions of this node's GPUs.",
        discussion: """
            Standalone mode with simulated GPUs: `tessera node --sim-gpus 2 --sim-gpu-memory 16GiB`.
            Programs on this machine connect through the unix socket; programs elsewhere through --listen.
            On a Kubernetes node, --device-plugin (or --kubelet-dir DIR) also registers the vGPU resource with
            the kubelet: `tessera node --socket /var/run/tessera/node.sock --device-plugin`.
            """
    )

    @Option(help: "Unix socket for local programs.")
    var socket: String = NodeConfiguration.defaultSocketPath

    @Option(help: "Also serve remote programs over TCP at HOST:PORT (port 0 picks a free one).")
    var listen: String?

    @Option(name: .customLong("sim-gpus"), help: "Number of simulated GPUs.")
    var simGPUs: Int = 1

    @Option(name: .customLong("sim-gpu-memory"), help: "Memory of each simulated GPU (MiB/GiB units).")
    var simGPUMemory: String = "16GiB"

    @Option(help: "Model the simulated GPUs report: \(SimulatedModel.allNames).")
    var simGPUModel: String = "h100"

    @Option(name: .customLong("sim-sms"), help: "Override the model's number of streaming multiprocessors.")
    var simSMs: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @OptionGroup(title: "Pool") var pool: NodePoolOptions

    @OptionGroup(title: "Kubernetes device plugin") var kubelet: DevicePluginOptions

    func run() async throws {
        guard simGPUs >= 0, simGPUs <= 64 else { throw ValidationError("--sim-gpus must be 0…64") }
        guard let memory = VirtualGPUEnvironment.parseSize(simGPUMemory) else {
            throw ValidationError("--sim-gpu-memory: '\(simGPUMemory)' is not a size like 16GiB or 512MiB")
        }
        guard let model = SimulatedModel(name: simGPUModel) else {
            throw ValidationError("--sim-gpu-model: unknown model '\(simGPUModel)'; known: \(SimulatedModel.allNames)")
        }
        var listenAddress: (String, Int)?
        if let listen {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen must be HOST:PORT, got '\(listen)'")
            }
            listenAddress = (String(listen[..<colon]).trimmingBrackets, port)
        }
        let pluginConfiguration = kubelet.enabled ? try kubelet.configuration(socket: socket) : nil
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "tessera.node")
        var properties = model.properties(memory: memory)
        if let simSMs { properties.multiprocessorCount = simSMs }
        let backend = SimulatedBackend(count: simGPUs, properties: properties)
        let placement = try pool.placement(
            kubelet: pluginConfiguration.map { PodResourcesClient(configuration: $0) }, resourceName: kubelet.resourceName)
        let node = Node(configuration: NodeConfiguration(socketPath: socket, listen: listenAddress), backend: backend,
                        policy: placement ?? SpreadPlacement(), logger: logger)
        logger.info("\(simGPUs) simulated \(properties.name) GPU(s), \(VirtualGPUEnvironment.formatSize(memory)) each")
        var services: [any Service] = [node]
        if let placement {
            services.append(pool.link(node: node, placement: placement, logger: logger))
        }
        if let pluginConfiguration {
            services.append(DevicePlugin(gpuCount: backend.gpus.count, configuration: pluginConfiguration,
                                         healthProbe: { backend.isHealthy(gpu: $0) }, logger: Logger(label: "tessera.device-plugin")))
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension String {
    /// "[::1]" → "::1", for IPv6 literals in HOST:PORT.
    var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
