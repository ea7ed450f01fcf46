import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Serves ``NodeMetrics`` at `GET /metrics` on its own address (`tessera node --metrics-listen HOST:PORT`),
/// without a token: bind it to an address only the monitoring network reaches (a pod IP, loopback).
public struct NodeMetricsServer: Service {
    let application: any Service

    public init(metrics: NodeMetrics, host: String, port: Int, logger: Logger) {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tessera-node"),
            onServerRunning: { channel in logger.notice("metrics on \(host):\(channel.localAddress?.port ?? port)") },
            logger: logger)
    }

    public func run() async throws { try await application.run() }
}
