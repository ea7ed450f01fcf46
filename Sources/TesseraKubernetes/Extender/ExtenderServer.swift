import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `tessera scheduler`'s HTTP service: `POST {prefix}/filter`, `/prioritize`, `/bind` as kube-scheduler calls
/// them, `GET /healthz`, and the periodic reconciliation of reservations with the pods that exist.
public struct ExtenderServer: Service {
    public let extender: SchedulerExtender
    public let host: String
    public let port: Int
    /// Path prefix of the verbs, matching `urlPrefix` in the scheduler configuration (e.g. `/tessera`).
    public let pathPrefix: String
    private let onServerRunning: @Sendable (Int) async -> Void

    /// A server on `host:port` (port 0 picks one; `onServerRunning` learns it).
    public init(
        extender: SchedulerExtender, host: String = "0.0.0.0", port: Int = 8888, pathPrefix: String = "",
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.extender = extender
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix.hasSuffix("/") ? String(pathPrefix.dropLast()) : pathPrefix
        self.onServerRunning = onServerRunning
    }

    public func run() async throws {
        let router = Router()
        let extender = self.extender
        let prefix = pathPrefix
        router.post("\(prefix)/filter") { request, _ -> Response in
            let args = try await Self.decodeArgs(request)
            return Self.response(try extender.filter(args).json())
        }
        router.post("\(prefix)/prioritize") { request, _ -> Response in
            let args = try await Self.decodeArgs(request)
            return Self.response(HostPriority.json(extender.prioritize(args)))
        }
        router.post("\(prefix)/bind") { request, _ -> Response in
            let args = try await Self.decode(ExtenderBindingArgs.self, request)
            return try Self.json(await extender.bind(args))
        }
        // Ready once the capacity is known (a controller-backed extender: after its first refresh).
        router.get("/healthz") { _, _ -> Response in
            guard extender.reservations.isReady else {
                return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "capacity not known yet")))
            }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
        }
        let callback = onServerRunning
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "tessera-scheduler"),
            services: [ReservationReconciler(extender: extender)],
            onServerRunning: { channel in await callback(channel.localAddress?.port ?? 0) },
            logger: extender.logger)
        try await app.run()
    }

    /// Bodies above this are refused; 1,213 nodes as full objects stay well below.
    static let maximumBodyBytes = 64 << 20

    static func decodeArgs(_ request: Request) async throws -> ExtenderArgs {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBodyBytes)
        do throws(KubernetesError) {
            return try ExtenderArgs(json: buffer.readableBytesView)
        } catch {
            throw HTTPError(.badRequest, message: error.message)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBodyBytes)
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch let error as KubernetesError {
            throw HTTPError(.badRequest, message: error.message)
        } catch {
            throw HTTPError(.badRequest, message: "malformed \(T.self): \(error)")
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        response(Array(try JSONEncoder().encode(value)))
    }

    static func response(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Releases reservations whose pod is gone, finished or never bound, every `reconcileIntervalSeconds`.
struct ReservationReconciler: Service {
    let extender: SchedulerExtender

    func run() async throws {
        let interval = extender.configuration.reconcileIntervalSeconds
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .seconds(interval))
                } catch { return }
                do throws(KubernetesError) {
                    try await extender.reconcile(now: Date().timeIntervalSince1970)
                } catch {
                    extender.logger.warning("reconciliation failed", metadata: ["error": "\(error.message)"])
                }
            }
        }
    }
}
