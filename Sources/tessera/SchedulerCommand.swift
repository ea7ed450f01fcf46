import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraKubernetes
import TesseraPlacement
import TesseraPoolAPI

/// `tessera scheduler`: the kube-scheduler extender.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Serve the kube-scheduler extender: filter, prioritize and bind pods asking for vGPUs.",
        discussion: """
            kube-scheduler calls POST <prefix>/filter, /prioritize and /bind (see deploy/scheduler/). With \
            --controller, reservations are held in the controller under pod/<UID> (its single source of truth; \
            replicas and restarts lose nothing) and filter/prioritize read a mirror of its capacity; the token \
            comes from --controller-token-file or $TESSERA_SCHEDULER_TOKEN. Without it, reservations live in this \
            process on the GPUs of --nodes (CSV: name,cpu_milli,memory_mib,gpu,model[,gpu_memory_mib]).
            """
    )

    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Port to listen on (0 picks one).")
    var port: Int = 8888

    @Option(help: "Path prefix of the verbs (the urlPrefix's path).")
    var pathPrefix: String = ""

    @Option(help: "The controller's URL, e.g. http://tessera-controller:7080; reservations are held there.")
    var controller: String?

    @Option(help: "File holding the controller's scheduler token (else $TESSERA_SCHEDULER_TOKEN).")
    var controllerTokenFile: String?

    @Option(help: "CA bundle (PEM) the controller's HTTPS certificate must chain to (else $TESSERA_CA).")
    var controllerCAFile: String?

    @Option(help: "Seconds between refreshes of the controller's capacity mirror.")
    var refreshInterval: Double = 5

    @Option(help: "Without --controller: node inventory CSV: name,cpu_milli,memory_mib,gpu,model[,gpu_memory_mib].")
    var nodes: String?

    @Option(help: "Placement policy: \(ScoringPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var policy: String = ScoringPolicy.tessera.rawValue

    @Option(help: "Kubernetes API URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT and the service account).")
    var kubeAPI: String?

    @Option(help: "Bearer token file for --kube-api.")
    var tokenFile: String?

    @Option(help: "CA bundle (PEM) the --kube-api server's certificate must chain to; default: the system's trust store.")
    var kubeAPICAFile: String?

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
            apiConfiguration = KubernetesAPIConfiguration(baseURL: kubeAPI, tokenFile: tokenFile, caFile: kubeAPICAFile)
        } else if let inCluster = KubernetesAPIConfiguration.inCluster(environment: ProcessInfo.processInfo.environment) {
            apiConfiguration = inCluster
        } else {
            throw ValidationError("--kube-api is needed outside a cluster")
        }
        let placementPolicy = try ScoringPolicy(name: policy)
        let reservations: any ReservationService
        var services: [any Service] = []
        let inventoryDescription: String
        if let controller {
            let client: ControllerClient
            if let controllerTokenFile {
                client = ControllerClient(baseURL: controller, tokenFile: controllerTokenFile, caFile: controllerCAFile ?? ControllerClient.environmentCAFile)
            } else if let token = ProcessInfo.processInfo.environment["TESSERA_SCHEDULER_TOKEN"], !token.isEmpty {
                client = ControllerClient(baseURL: controller, token: token, caFile: controllerCAFile ?? ControllerClient.environmentCAFile)
            } else {
                throw ValidationError("--controller needs a token: pass --controller-token-file or set TESSERA_SCHEDULER_TOKEN")
            }
            let mirrored = ControllerReservations(
                client: client,
                configuration: .init(policy: placementPolicy, refreshIntervalSeconds: refreshInterval, unboundTTLSeconds: unboundGrace),
                logger: logger)
            // Fill the mirror before serving, so the first pods are not filtered against an empty pool; if the
            // controller is not up yet, the mirror's service keeps trying.
            do throws(KubernetesError) {
                try await mirrored.refresh()
            } catch {
                logger.warning("the controller's capacity is not known yet", metadata: ["error": "\(error.message)"])
            }
            reservations = mirrored
            services.append(mirrored)
            inventoryDescription = controller
        } else {
            guard let nodes else { throw ValidationError("pass --controller URL (or --nodes CSV for reservations in this process)") }
            let text: String
            do { text = try String(contentsOfFile: nodes, encoding: .utf8) } catch {
                throw ValidationError("--nodes: cannot read \(nodes): \(error.localizedDescription)")
            }
            let inventory = try OpenbTrace.parseNodes(text, file: nodes)
            reservations = try InProcessReservations(nodes: inventory, policy: placementPolicy)
            inventoryDescription = "\(inventory.count) nodes of \(nodes)"
        }
        let names = ResourceNames(vgpu: vgpuResource, vgpuMemory: vgpuMemoryResource, vgpuCompute: vgpuComputeResource)
        let extender = SchedulerExtender(
            configuration: ExtenderConfiguration(
                names: names, defaultMemoryMiB: defaultMemory, defaultComputePercent: defaultCompute,
                unboundGraceSeconds: unboundGrace, reconcileIntervalSeconds: reconcileInterval),
            reservations: reservations, kubernetes: KubernetesClient(configuration: apiConfiguration), logger: logger)
        let server = ExtenderServer(extender: extender, host: host, port: port, pathPrefix: pathPrefix) { port in
            logger.info("serving the scheduler extender", metadata: ["port": "\(port)", "capacity": "\(inventoryDescription)"])
        }
        let group = ServiceGroup(services: services + [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
