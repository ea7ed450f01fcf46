import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Serves ``NodeMetrics`` at `GET /metrics` on its own address (`tessera node --metrics-listen HOST:PORT`),
/// without a token: bind it to an address only the monitoring network reaches (a pod IP, loopback). Over HTTPS
/// with the node's TLS certificate when it has one (issued by the pool CA or its `--tls-cert`), else plain HTTP.
public struct NodeMetricsServer: Service {
    let application: any Service

    /// - Parameter tls: PEM files of the node's certificate chain and key, for HTTPS.
    public init(metrics: NodeMetrics, host: String, port: Int, tls: (certificate: String, key: String)? = nil, logger: Logger) throws {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        let server: HTTPServerBuilder
        if let tls {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            configuration.minimumTLSVersion = .tlsv12
            server = try .tls(.http1(), tlsConfiguration: configuration)
        } else {
            server = .http1()
        }
        let scheme = tls == nil ? "http" : "https"
        application = Application(
            router: router, server: server, configuration: .init(address: .hostname(host, port: port), serverName: "tessera-node"),
            onServerRunning: { channel in logger.notice("metrics on \(host):\(channel.localAddress?.port ?? port) (\(scheme))") },
            logger: logger)
    }

    public func run() async throws { try await application.run() }
}
