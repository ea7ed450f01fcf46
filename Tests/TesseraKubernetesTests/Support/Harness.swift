import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import ServiceLifecycle
import Testing
import TesseraController
import TesseraKubernetes
import TesseraPlacement
import TesseraPoolAPI
import TesseraTestSupport

/// Where the extender under test keeps its reservations.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// In this process (``InProcessReservations``).
    case inProcess
    /// In a real controller (in this process, serving its real HTTP API on loopback), through
    /// ``ControllerReservations``.
    case controller

    var testDescription: String { rawValue }
}

/// Runs the real extender server, the Kubernetes API stand-in and (for ``Backend/controller``) a real
/// controller on free ports for the duration of `body`.
struct Harness {
    let api: KubernetesAPIStandIn
    let reservations: any ReservationService
    let extender: SchedulerExtender
    let extenderURL: String
    /// The controller, when the reservations live there.
    let controller: Controller?
    let controllerURL: String?

    /// The nodes with their free amounts as the reservation service sees them (a controller-backed one after
    /// reading the controller's state afresh).
    func nodes() async throws -> [PlacementNode] {
        if let mirrored = reservations as? ControllerReservations {
            try await mirrored.refresh()
            return mirrored.nodes
        }
        return (reservations as! InProcessReservations).nodes
    }

    static let schedulerToken = "scheduler-token"
    static let nodeToken = "node-token"
    static let adminToken = "admin-token"

    static func with<T: Sendable>(
        nodes: [PlacementNode], backend: Backend = .inProcess, configuration: ExtenderConfiguration = .init(),
        _ body: @Sendable (Harness) async throws -> T
    ) async throws -> T {
        let api = KubernetesAPIStandIn()
        // Quiet: the servers log cancellation at shutdown and refused binds, which the tests provoke.
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let stateFolder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-extender-\(UUID())").path
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateFolder) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let (apiPorts, apiPort) = AsyncStream.makeStream(of: Int.self)
            let apiApp = Application(
                router: api.makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { apiPort.yield($0.localAddress?.port ?? 0) }, logger: logger)
            group.addTask { try await apiApp.run() }
            var apiIterator = apiPorts.makeAsyncIterator()
            let kubePort = await apiIterator.next()!

            let reservations: any ReservationService
            var controller: Controller?
            var controllerURL: String?
            switch backend {
            case .inProcess:
                reservations = try InProcessReservations(nodes: nodes)
            case .controller:
                let (c, url) = try await startController(nodes: nodes, stateFolder: stateFolder, logger: logger, group: &group)
                controller = c
                controllerURL = url
                let mirrored = ControllerReservations(
                    client: ControllerClient(baseURL: url, token: schedulerToken),
                    configuration: .init(unboundTTLSeconds: configuration.unboundGraceSeconds), logger: logger)
                try await mirrored.refresh()
                group.addTask { try await mirrored.run() }
                reservations = mirrored
            }
            let extender = SchedulerExtender(
                configuration: configuration, reservations: reservations,
                kubernetes: KubernetesClient(configuration: .init(baseURL: "http://127.0.0.1:\(kubePort)")),
                logger: logger)
            let (extenderPorts, extenderPort) = AsyncStream.makeStream(of: Int.self)
            let server = ExtenderServer(extender: extender, host: "127.0.0.1", port: 0, pathPrefix: "/tessera") {
                extenderPort.yield($0)
            }
            group.addTask { try await server.run() }
            var extenderIterator = extenderPorts.makeAsyncIterator()
            let port = await extenderIterator.next()!
            let harness = Harness(
                api: api, reservations: reservations, extender: extender, extenderURL: "http://127.0.0.1:\(port)/tessera",
                controller: controller, controllerURL: controllerURL)
            defer { group.cancelAll() }
            return try await body(harness)
        }
    }

    /// A real controller with `nodes` registered (they never time out here), serving its HTTP API on loopback.
    static func startController(
        nodes: [PlacementNode], stateFolder: String, logger: Logger, group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws -> (Controller, String) {
        let controller = try Controller(
            configuration: ControllerConfiguration(
                host: "127.0.0.1", port: 0, statePath: "\(stateFolder)/controller.sqlite", adminTokens: [adminToken],
                nodeTokens: [nodeToken], timing: PoolState.Timing(nodeTimeout: 1e9, leaseGrace: 5), schedulerTokens: [schedulerToken]),
            logger: logger)
        for node in nodes {
            let registration = NodeRegistration(
                name: node.name, endpoint: nil,
                gpus: node.gpus.enumerated().map { GPUDescription(index: $0, model: $1.model, memoryMiB: $1.memoryMiB, multiprocessors: 108) })
            let _: Int = try await controller.perform { s, now throws(PoolError) in (0, try s.register(registration, now: now)) }
        }
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: ControllerAPI.router(for: controller), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { port.yield($0.localAddress?.port ?? 0) }, logger: logger)
        group.addTask { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        return (controller, "http://127.0.0.1:\(await iterator.next()!)")
    }

    /// POSTs `json` to the extender's `verb` as kube-scheduler does; returns the status and body.
    func post(_ verb: String, _ json: String) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "\(extenderURL)/\(verb)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await Self.session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 32
        configuration.timeoutIntervalForRequest = 60
        return URLSession(configuration: configuration)
    }()
}
