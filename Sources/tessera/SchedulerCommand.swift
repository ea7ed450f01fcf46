import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraKubernetes
import TesseraPlacement

/// `tessera scheduler`: the kube-scheduler extender.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Serve the kube-scheduler extender: filter, prioritize and bind pods asking for vGPUs.",
        discussion: """
            kube-scheduler calls POST <prefix>/filter, /prioritize and /bind (see deploy/scheduler/). Reservations \
            are held in this process until the controller's reservation API takes them over; the nodes' GPUs \
            come from --nodes (CSV: name,cpu_milli,memory_mib,gpu,model[,gpu_memory_mib]).
            """
    )

    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Port to listen on (0 picks one).")
    var port: Int = 8888

    @Option(help: "Path prefix of the verbs (the urlPrefix's path).")
    var pathPrefix: String = ""

    @Option(help: "Node inventory CSV: name,cpu_milli,memory_mib,gpu,model[,gpu_memory_mib].")
    var nodes: String

    @Option(help: "Placement policy: \(PlacementPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var policy: String = PlacementPolicy.tessera.rawValue

    @Option(help: "Kubernetes API URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT and the service account).")
    var kubeAPI: String?

    @Option(help: "Bearer token file for --kube-api.")
    var tokenFile: String?

    @Option(help: "Resource name: number of vGPUs.")
    var vgpuResource: String = ResourceNames.standard.vgpu

    @Option(help: "Resource name: MiB per vGPU.")
    var vgpuMemoryResource: String = ResourceNames.standard.vgpuMemory

    @Option(help: "Resource name: percent compute per vGPU.")
    var vgpuComputeResource: String = ResourceNames.standard.vgpuCompute

    @Option(help: "MiB per vGPU when a pod gives only the count.")
    var defaultMemory: Int = 1024

    @Option(help: "Percent compute per vGPU when a pod gives only the count.")
    var defaultCompute: Int = 10

    @Option(help: "Seconds a reservation may wait for its pod to be bound.")
    var unboundGrace: Double = 60

    @Option(help: "Seconds between reconciliations of reservations with pods.")
    var reconcileInterval: Double = 30

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "tessera.scheduler")
        let apiConfiguration: KubernetesAPIConfiguration
        if let kubeAPI {
            apiConfiguration = KubernetesAPIConfiguration(baseURL: kubeAPI, tokenFile: tokenFile)
        } else if let inCluster = KubernetesAPIConfiguration.inCluster(environment: ProcessInfo.processInfo.environment) {
            apiConfiguration = inCluster
        } else {
            throw ValidationError("--kube-api is needed outside a cluster")
        }
        let text: String
        do { text = try String(contentsOfFile: nodes, encoding: .utf8) } catch {
            throw ValidationError("--nodes: cannot read \(nodes): \(error.localizedDescription)")
        }
        let inventory = try OpenbTrace.parseNodes(text, file: nodes)
        let reservations = try InProcessReservations(nodes: inventory, policy: try PlacementPolicy(name: policy))
        let names = ResourceNames(vgpu: vgpuResource, vgpuMemory: vgpuMemoryResource, vgpuCompute: vgpuComputeResource)
        let extender = SchedulerExtender(
            configuration: ExtenderConfiguration(
                names: names, defaultMemoryMiB: defaultMemory, defaultComputePercent: defaultCompute,
                unboundGraceSeconds: unboundGrace, reconcileIntervalSeconds: reconcileInterval),
            reservations: reservations, kubernetes: KubernetesClient(configuration: apiConfiguration), logger: logger)
        let server = ExtenderServer(extender: extender, host: host, port: port, pathPrefix: pathPrefix) { port in
            logger.info("serving the scheduler extender", metadata: ["port": "\(port)", "nodes": "\(inventory.count)"])
        }
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
