import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TesseraController
import TesseraPoolAPI

/// `tessera controller`: the pool manager.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the pool controller: inventory, leases, reservations, placement, HTTP API.",
        discussion: """
            Tokens: admin tokens from --admin-token-file (one a line) and/or $TESSERA_ADMIN_TOKENS (comma-separated);
            node tokens from --node-token-file and/or $TESSERA_NODE_TOKENS; scheduler-extender tokens from \
            --scheduler-token-file and/or $TESSERA_SCHEDULER_TOKENS; read-only monitoring tokens (/metrics, the \
            dashboard without its actions) from --metrics-token-file and/or $TESSERA_METRICS_TOKENS; teachers' tokens, \
            each scoped to one group, from --teacher-token-file (GROUP:TOKEN a line) and/or $TESSERA_TEACHER_TOKENS \
            (GROUP:TOKEN,…). At least one admin token is required. The dashboard is served at / on the API's address.
            """
    )

    @Option(help: "Address of the HTTP API, HOST:PORT (port 0 picks one).")
    var listen: String = "127.0.0.1:7080"

    @Option(help: "SQLite database of the pool's durable state.")
    var state: String = ControllerCommand.defaultStatePath

    @Option(help: "File with admin tokens, one a line.")
    var adminTokenFile: String?

    @Option(help: "File with node tokens, one a line.")
    var nodeTokenFile: String?

    @Option(help: "File with scheduler-extender tokens, one a line (read the pool, hold and release reservations).")
    var schedulerTokenFile: String?

    @Option(help: "File with read-only monitoring tokens, one a line (/metrics and the dashboard's views).")
    var metricsTokenFile: String?

    @Option(help: "File with teachers' tokens, GROUP:TOKEN a line: each sees and manages only its group.")
    var teacherTokenFile: String?

    @Option(help: "Seconds between samples of the dashboard's history (the ring keeps 2160 samples).")
    var historyInterval: Double = 10

    @Option(help: "Placement policy: tessera (default), binpack, spread, fgd, …")
    var policy: String = "tessera"

    @Option(help: "Seconds of silence after which a node is down.")
    var nodeTimeout: Double = 5

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    static var defaultStatePath: String {
        (ProcessInfo.processInfo.environment["XDG_STATE_HOME"] ?? (NSHomeDirectory() + "/.local/state")) + "/tessera/controller.sqlite"
    }

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen must be HOST:PORT, got '\(listen)'")
        }
        let host = String(listen[..<colon]).trimmingBrackets
        let admin = try readTokens(file: adminTokenFile, environment: "TESSERA_ADMIN_TOKENS")
        guard !admin.isEmpty else { throw ValidationError("no admin token: pass --admin-token-file or set TESSERA_ADMIN_TOKENS") }
        let nodeTokens = try readTokens(file: nodeTokenFile, environment: "TESSERA_NODE_TOKENS")
        let schedulerTokens = try readTokens(file: schedulerTokenFile, environment: "TESSERA_SCHEDULER_TOKENS")
        let metricsTokens = try readTokens(file: metricsTokenFile, environment: "TESSERA_METRICS_TOKENS")
        guard historyInterval > 0 else { throw ValidationError("--history-interval must be positive") }
        let strategy: PlacementStrategy
        do { strategy = try PlacementStrategy(name: policy) } catch { throw ValidationError("\(error)") }
        bootstrapLogging(logLevel)
        let logger = Logger(label: "tessera.controller")
        var configuration = ControllerConfiguration(
            host: host, port: port, statePath: state, adminTokens: admin, nodeTokens: nodeTokens, strategy: strategy,
            timing: PoolState.Timing(nodeTimeout: nodeTimeout, leaseGrace: max(2, nodeTimeout)), schedulerTokens: schedulerTokens)
        configuration.metricsTokens = metricsTokens
        for entry in try readTokens(file: teacherTokenFile, environment: "TESSERA_TEACHER_TOKENS") {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex, entry.index(after: colon) != entry.endIndex else {
                throw ValidationError("a teacher token must be written GROUP:TOKEN")
            }
            configuration.teacherTokens[String(entry[entry.index(after: colon)...])] = String(entry[..<colon])
        }
        configuration.historyInterval = historyInterval
        let controller = try Controller(configuration: configuration, logger: logger)
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: controller.registry))
        let services = try controllerServices(controller, logger: logger)
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// The controller and its HTTP server, ready for a ServiceGroup.
func controllerServices(_ controller: Controller, logger: Logger) throws -> [any Service] {
    let c = controller.configuration
    let app = Application(
        router: ControllerAPI.router(for: controller),
        configuration: .init(address: .hostname(c.host, port: c.port), serverName: "tessera"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? c.port
            logger.notice("listening on \(c.host):\(port)")
        },
        logger: logger)
    return [controller, app]
}

func bootstrapLogging(_ level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
