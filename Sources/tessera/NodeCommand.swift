import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraCUDABackend
import TesseraDevicePlugin
import TesseraNode
import TesseraNodeAgent
import TesseraNodeMetrics
import TesseraPoolAPI
import TesseraSim
import TesseraSimBackend
import TesseraWire

/// `tessera node`: the per-node daemon.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run the node daemon: serve vGPU sessions of this node's GPUs.",
        discussion: """
            Standalone mode with simulated GPUs: `tessera node --sim-gpus 2 --sim-gpu-memory 16GiB`.
            Real NVIDIA GPUs: `tessera node --gpus all` (or --gpus 0,2); each session's vGPU runs in a worker
            process of its own holding a CUDA context (--cuda-driver picks the driver library).
            Programs on this machine connect through the unix socket; programs elsewhere through --listen.
            On a Kubernetes node, --device-plugin (or --kubelet-dir DIR) also registers the vGPU resource with
            the kubelet: `tessera node --socket /var/run/tessera/node.sock --device-plugin`.
            """
    )

    @Option(help: "Unix socket for local programs.")
    var socket: String = NodeConfiguration.defaultSocketPath

    @Option(help: "Also serve remote programs over TCP at HOST:PORT (port 0 picks a free one).")
    var listen: String?

    @Option(name: .customLong("gpus"), help: "Serve real NVIDIA GPUs through the CUDA driver: 'all' or driver ordinals like 0,2.")
    var realGPUs: String?

    @Option(name: .customLong("cuda-driver"), help: "The CUDA driver library --gpus loads (default: the system's libcuda.so.1).")
    var cudaDriver: String = CUDADriver.defaultPath

    @Option(name: .customLong("sim-gpus"), help: "Number of simulated GPUs (default 1; not with --gpus).")
    var simGPUCount: Int?

    @Option(name: .customLong("sim-gpu-memory"), help: "Memory of each simulated GPU (MiB/GiB units; default 16GiB).")
    var simGPUMemorySize: String?

    @Option(name: .customLong("sim-gpu-model"), help: "Model the simulated GPUs report: \(SimulatedModel.allNames) (default h100).")
    var simGPUModelName: String?

    @Option(name: .customLong("sim-sms"), help: "Override the model's number of streaming multiprocessors.")
    var simSMs: Int?

    @Option(help: "Serve Prometheus metrics of this node's GPUs and vGPUs at http://HOST:PORT/metrics (no token: bind it to a monitoring address).")
    var metricsListen: String?

    @Option(help: "Page sessions idle this many seconds out of device memory when a request does not fit (default: never page).")
    var pageIdleAfter: Double?

    @Option(help: "With --page-idle-after: keep paged memory in files in this folder (beyond --page-file-limit, host memory).")
    var pageDirectory: String?

    @Option(help: "The most bytes the files in --page-directory may hold together (MiB/GiB units; default 16GiB).")
    var pageFileLimit: String = "16GiB"

    @Option(help: "PEM certificate chain for TLS on --listen (with --tls-key); programs then need TESSERA_CA.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(help: "Serve --listen over plain TCP, without TLS (programs' data and tokens cross the network unencrypted; logged as a warning).")
    var insecurePlaintext = false

    @Flag(help: "Standalone node only: admit TCP sessions that present no token (anyone who can reach --listen can take the GPUs; logged as a warning).")
    var allowAnonymous = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @OptionGroup(title: "Pool") var pool: NodePoolOptions

    @OptionGroup(title: "Kubernetes device plugin") var kubelet: DevicePluginOptions

    var simGPUs: Int { simGPUCount ?? 1 }
    var simGPUMemory: String { simGPUMemorySize ?? "16GiB" }
    var simGPUModel: String { simGPUModelName ?? "h100" }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if insecurePlaintext && tlsCert != nil { throw ValidationError("--insecure-plaintext cannot be combined with --tls-cert") }
        if listen != nil && tlsCert == nil && !insecurePlaintext && pool.controller == nil {
            throw ValidationError("--listen serves TLS: give --tls-cert and --tls-key, join a pool (--controller) to get a certificate from its CA, or pass --insecure-plaintext")
        }
        if allowAnonymous && pool.controller != nil {
            throw ValidationError("--allow-anonymous is for standalone nodes: a pool node admits TCP sessions by user token (TESSERA_TOKEN) or attach credential")
        }
        // Real and simulated GPUs are two backends; a node serves one of them.
        if realGPUs != nil {
            let simulated = [("--sim-gpus", simGPUCount != nil), ("--sim-gpu-memory", simGPUMemorySize != nil),
                             ("--sim-gpu-model", simGPUModelName != nil), ("--sim-sms", simSMs != nil)].filter(\.1).map(\.0)
            if !simulated.isEmpty {
                throw ValidationError("--gpus serves real GPUs and cannot be combined with \(simulated.joined(separator: ", ")) (simulated GPUs): give one or the other")
            }
        }
    }

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
        var metricsAddress: (String, Int)?
        if let metricsListen {
            guard let colon = metricsListen.lastIndex(of: ":"), let port = Int(metricsListen[metricsListen.index(after: colon)...]),
                  (0...65535).contains(port) else {
                throw ValidationError("--metrics-listen must be HOST:PORT, got '\(metricsListen)'")
            }
            metricsAddress = (String(metricsListen[..<colon]).trimmingBrackets, port)
        }
        var paging: PagingConfiguration?
        if let pageIdleAfter {
            guard pageIdleAfter >= 0, pageIdleAfter.isFinite else { throw ValidationError("--page-idle-after must be a number of seconds ≥ 0") }
            var files: NodePageStore.FileSpace?
            if let pageDirectory {
                guard let limit = VirtualGPUEnvironment.parseSize(pageFileLimit) else {
                    throw ValidationError("--page-file-limit: '\(pageFileLimit)' is not a size like 16GiB or 512MiB")
                }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: pageDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ValidationError("--page-directory: '\(pageDirectory)' is not a folder")
                }
                files = NodePageStore.FileSpace(directory: pageDirectory, limit: limit)
            }
            paging = PagingConfiguration(idleAfterSeconds: pageIdleAfter, files: files)
        } else if pageDirectory != nil {
            throw ValidationError("--page-directory needs --page-idle-after")
        }
        var pluginConfiguration = kubelet.enabled ? try kubelet.configuration(socket: socket) : nil
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "tessera.node")
        let backend: any DeviceBackend
        if let realGPUs {
            backend = try realBackend(realGPUs, paging: paging != nil, logger: logger)
        } else {
            var properties = model.properties(memory: memory)
            if let simSMs { properties.multiprocessorCount = simSMs }
            backend = SimulatedBackend(count: simGPUs, properties: properties)
            logger.info("\(simGPUs) simulated \(properties.name) GPU(s), \(VirtualGPUEnvironment.formatSize(memory)) each")
        }
        pluginConfiguration?.simulatedGPUs = !backend.gpus.isEmpty && backend.gpus.allSatisfy(\.simulated)
        let placement = try pool.placement(
            kubelet: pluginConfiguration.map { PodResourcesClient(configuration: $0) }, resourceName: kubelet.resourceName)
        var configuration = NodeConfiguration(socketPath: socket, listen: listenAddress, paging: paging)
        configuration.allowAnonymous = allowAnonymous
        // The folder of an issued key and certificate: removed when the node stops.
        var issuedTLSFolder: String?
        defer { if let issuedTLSFolder { try? FileManager.default.removeItem(atPath: issuedTLSFolder) } }
        if let tlsCert, let tlsKey {
            configuration.tls = (tlsCert, tlsKey)
        } else if let listenAddress, insecurePlaintext {
            logger.warning("--listen \(listenAddress.0):\(listenAddress.1) serves plain TCP (--insecure-plaintext): programs' data and tokens cross the network unencrypted")
        } else if let listenAddress, let placement {
            // The pool CA signs this node's key; the node token is the credential.
            let advertiseHost = pool.advertise.flatMap { a in a.lastIndex(of: ":").map { String(a[..<$0]).trimmingBrackets } }
            do throws(PoolError) {
                let files = try await NodeCertificates.obtain(
                    client: placement.client, nodeName: placement.nodeName,
                    hosts: NodeCertificates.hosts(listenHost: listenAddress.0, advertiseHost: advertiseHost))
                configuration.tls = (files.certificate, files.key)
                issuedTLSFolder = (files.certificate as NSString).deletingLastPathComponent
                pluginConfiguration?.caBundleHostPath = files.caBundle
                logger.notice("TLS on --listen with a certificate from the pool CA; programs reaching nodes over TCP verify them with TESSERA_CA=\(files.caBundle)")
            } catch {
                throw NodeStartError(message: "tessera node: cannot get a TLS certificate from the controller: \(error.message) (give --tls-cert and --tls-key, or --insecure-plaintext)")
            }
        }
        if pluginConfiguration != nil, pluginConfiguration?.caBundleHostPath == nil {
            pluginConfiguration?.caBundleHostPath = pool.caFile ?? ControllerClient.environmentCAFile
        }
        if let controller = pool.controller, controller.lowercased().hasPrefix("http://") {
            logger.warning("the controller is reached over plain HTTP (\(controller)): the node token crosses the network unencrypted")
        }
        let node = Node(configuration: configuration, backend: backend, policy: placement ?? SpreadPlacement(),
                        authenticator: placement.map { ControllerAuthenticator(client: $0.client) }, logger: logger)
        var services: [any Service] = [node]
        if let placement {
            services.append(pool.link(node: node, placement: placement, logger: logger))
        }
        if let metricsAddress {
            let metrics = NodeMetrics(node: node, name: placement?.nodeName ?? pool.name ?? ProcessInfo.processInfo.hostName, placement: placement)
            services.append(try NodeMetricsServer(metrics: metrics, host: metricsAddress.0, port: metricsAddress.1,
                                                  tls: configuration.tls.map { (certificate: $0.certificate, key: $0.key) }, logger: logger))
        }
        if let pluginConfiguration {
            services.append(DevicePlugin(gpuCount: backend.gpus.count, configuration: pluginConfiguration,
                                         healthProbe: { backend.isHealthy(gpu: $0) }, logger: Logger(label: "tessera.device-plugin")))
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension NodeCommand {
    /// The CUDA backend for `--gpus`; without a usable driver, one clear line and exit status 1.
    func realBackend(_ list: String, paging: Bool, logger: Logger) throws -> CUDABackend {
        var selection: [Int]?
        if list != "all" {
            let parts = list.split(separator: ",").map { Int(String($0.filter { $0 != " " })) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }), Set(parts).count == parts.count else {
                throw ValidationError("--gpus must be 'all' or distinct driver ordinals like 0,2; got '\(list)'")
            }
            selection = parts.map { $0! }
        }
        let configuration = CUDABackend.Configuration(
            driverPath: cudaDriver, selection: selection,
            launcher: WorkerLauncher(executable: WorkerLauncher.currentExecutable, arguments: ["worker"]), paging: paging)
        do throws(DeviceError) {
            return try CUDABackend(configuration: configuration, logger: logger)
        } catch {
            throw NodeStartError(message: "tessera node --gpus: \(error.message)")
        }
    }
}

/// A node that cannot start: printed as one line, exit status 1.
struct NodeStartError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension String {
    /// "[::1]" → "::1", for IPv6 literals in HOST:PORT.
    var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
