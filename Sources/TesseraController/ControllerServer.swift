import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import ServiceLifecycle

/// The controller's HTTP server: HTTPS with ``ControllerConfiguration/tls`` (the default), plain HTTP only
/// without it (`--insecure-plaintext`, logged as a warning).
public enum ControllerServer {
    /// The controller and its server, ready for a ServiceGroup. Logs `listening on HOST:PORT` once bound.
    public static func services(_ controller: Controller, logger: Logger) throws -> [any Service] {
        let c = controller.configuration
        let server: HTTPServerBuilder
        if let tls = c.tls {
            server = try .tls(.http1(), tlsConfiguration: tls.serverConfiguration())
        } else {
            logger.warning("the API is served over plain HTTP (--insecure-plaintext): tokens and the pool's state cross the network unencrypted")
            server = .http1()
        }
        let scheme = c.tls == nil ? "http" : "https"
        let app = Application(
            router: ControllerAPI.router(for: controller),
            server: server,
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "tessera"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? c.port
                logger.notice("listening on \(c.host):\(port) (\(scheme))")
            },
            logger: logger)
        return [controller, app]
    }
}
