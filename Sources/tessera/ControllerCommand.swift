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

    @Option(help: "Operator's CA certificate (PEM) instead of the state folder's CA; with --ca-key it also issues nodes' certificates.")
    var caCert: String?

    @Option(help: "Private key of --ca-cert (PEM).")
    var caKey: String?

    @Option(help: "Operator's certificate chain (PEM) for the HTTPS API, instead of one the pool CA signs (with --tls-key).")
    var tlsCert: String?

    @Option(help: "Private key of --tls-cert (PEM).")
    var tlsKey: String?

    @Option(help: "Another host name or IP address for the API's certificate (repeatable; localhost, 127.0.0.1, ::1, the host name and the listen address are always in it).")
    var tlsSAN: [String] = []

    @Flag(help: "Serve the API over plain HTTP, without TLS (tokens cross the network unencrypted; logged as a warning).")
    var insecurePlaintext = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if caKey != nil && caCert == nil { throw ValidationError("--ca-key needs --ca-cert") }
        if insecurePlaintext && (tlsCert != nil || caCert != nil) {
            throw ValidationError("--insecure-plaintext serves plain HTTP: it cannot be combined with --tls-cert or --ca-cert")
        }
    }

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
        configuration.tls = try controllerTLS(listenHost: host, logger: logger)
        let controller = try Controller(configuration: configuration, logger: logger)
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: controller.registry))
        let services = try ControllerServer.services(controller, logger: logger)
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension ControllerCommand {
    /// The API's TLS identity: the operator's certificates, else the pool CA of the state folder (made at the
    /// first start) signing a certificate for this controller; nil only with --insecure-plaintext.
    func controllerTLS(listenHost: String, logger: Logger) throws -> ControllerTLS? {
        if insecurePlaintext { return nil }
        if caCert != nil && caKey == nil && tlsCert == nil {
            throw ValidationError("--ca-cert without --ca-key cannot sign the API's certificate: give --ca-key, or --tls-cert and --tls-key")
        }
        let stateDirectory = (state as NSString).deletingLastPathComponent
        do throws(CertificateAuthority.Failure) {
            var authority: CertificateAuthority?
            var bundle: String?
            if let caCert {
                bundle = caCert
                if let caKey { authority = try CertificateAuthority.load(certificate: caCert, key: caKey) }
            } else if tlsCert == nil {
                let (ca, created) = try CertificateAuthority.loadOrCreate(directory: stateDirectory.isEmpty ? "." : stateDirectory)
                authority = ca
                bundle = CertificateAuthority.paths(in: stateDirectory.isEmpty ? "." : stateDirectory).certificate
                logger.notice("\(created ? "made the pool CA" : "pool CA") \(bundle!): clients verify the API and the nodes against it (--ca-file / TESSERA_CA)")
            }
            if let tlsCert, let tlsKey {
                guard let chain = try? String(contentsOfFile: tlsCert, encoding: .utf8) else { throw CertificateAuthority.Failure.reading(tlsCert) }
                guard let key = try? String(contentsOfFile: tlsKey, encoding: .utf8) else { throw CertificateAuthority.Failure.reading(tlsKey) }
                return ControllerTLS(certificateChainPEM: chain, privateKeyPEM: key, authority: authority, caBundlePath: bundle)
            }
            guard let authority else { throw CertificateAuthority.Failure.reading("--ca-key") }
            return try ControllerTLS.issued(by: authority, bundle: bundle, listenHost: listenHost, extraHosts: tlsSAN)
        } catch {
            throw ValidationError("TLS: \(error.message)")
        }
    }
}

func bootstrapLogging(_ level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
