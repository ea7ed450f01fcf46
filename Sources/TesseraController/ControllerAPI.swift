import Foundation
import Hummingbird
import Logging
import NIOCore
import TesseraPoolAPI

/// The controller's HTTP JSON API (docs/openapi.yaml). Every request carries `Authorization: Bearer TOKEN`:
/// admin tokens may do everything, node tokens only what nodes do (register, heartbeat, ask for and end
/// leases), scheduler tokens only what a scheduler extender does (read the pool, hold and release
/// reservations). Errors are `{"code": …, "message": …}` with the status ``PoolError/Code/httpStatus`` gives.
public enum ControllerAPI {
    /// Who may call a route besides admins.
    struct Role: OptionSet {
        let rawValue: Int
        /// Admins only.
        static let admin: Role = []
        static let node = Role(rawValue: 1)
        static let scheduler = Role(rawValue: 2)
        static let reader: Role = [.node, .scheduler]
    }

    /// The router serving `controller`.
    public static func router(for controller: Controller) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let c = controller
        route(router, .get, "/v1/status", .reader, c) { _, _ in c.read { $0.summary() } }
        route(router, .get, "/v1/nodes", .reader, c) { _, _ in c.read { $0.nodeInfos() } }
        route(router, .post, "/v1/nodes", .node, c) { request, _ in
            let registration = try await decode(NodeRegistration.self, request)
            return try await c.perform { s, now throws(PoolError) in
                let changes = try s.register(registration, now: now)
                return (s.nodeInfos().first { $0.name == registration.name }!, changes)
            }
        }
        route(router, .post, "/v1/nodes/{name}/heartbeat", .node, c) { request, context in
            let name = try parameter("name", context)
            let beat = try await decode(NodeHeartbeat.self, request)
            return try await c.perform { s, now in s.heartbeat(node: name, beat, now: now) }
        }
        route(router, .get, "/v1/gpus", .reader, c) { _, _ in c.read { $0.gpuInfos() } }
        route(router, .get, "/v1/sessions", .node, c) { _, _ in
            c.read { s in s.nodes.keys.sorted().flatMap { n in s.nodes[n]!.sessions.map { SessionInfo(node: n, report: $0) } } }
        }
        // Attach secrets appear only in the reply to the request that created the lease.
        route(router, .get, "/v1/leases", .node, c) { _, _ in c.read { $0.leases.values.sorted { $0.createdAt < $1.createdAt }.map(\.redacted) } }
        route(router, .get, "/v1/leases/{id}", .node, c) { _, context in
            let id = try parameter("id", context)
            guard let lease = c.read({ $0.leases[id] }) else { throw PoolError(.notFound, "no lease \(id)") }
            return lease.redacted
        }
        route(router, .post, "/v1/leases", .node, c, status: .created) { request, _ in
            let lease = try await decode(LeaseRequest.self, request)
            let secret = attachSecret()
            return try await c.perform { s, now throws(PoolError) in try s.grant(lease, now: now, secret: secret) }
        }
        route(router, .post, "/v1/leases/{id}/attach", .node, c) { request, context in
            let id = try parameter("id", context)
            let attach = try await decode(LeaseAttachRequest.self, request)
            return try await c.perform { s, now throws(PoolError) in try s.attach(lease: id, attach, now: now) }
        }
        route(router, .delete, "/v1/leases/{id}", .node, c) { _, context in
            let id = try parameter("id", context)
            return try await c.perform { s, now throws(PoolError) in
                guard s.leases[id] != nil else { throw PoolError(.notFound, "no lease \(id)") }
                return (Empty(), s.release(lease: id, now: now))
            }
        }
        route(router, .post, "/v1/placements", .admin, c) { request, _ in
            // A dry run: where a lease would go now, taking nothing.
            let lease = try await decode(LeaseRequest.self, request)
            return try c.read { s throws(PoolError) in
                var scratch = s
                return try scratch.grant(lease, now: Controller.now(), secret: nil).0.vgpus
            }
        }
        route(router, .get, "/v1/reservations", .reader, c) { request, _ in
            // `?consumer=pod/<UID>`: one consumer's reservations (a node looking up a pod's).
            if let consumer = request.uri.queryParameters.get("consumer") { return c.read { $0.reservations(of: consumer) } }
            return c.read { $0.reservations.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
        }
        route(router, .get, "/v1/reservations/{id}", .reader, c) { _, context in
            let id = try parameter("id", context)
            guard let r = c.read({ $0.reservations[id] }) else { throw PoolError(.notFound, "no reservation \(id)") }
            return r
        }
        route(router, .post, "/v1/reservations", .scheduler, c, status: .created) { request, _ in
            let r = try await decode(ReservationRequest.self, request)
            return try await c.perform { s, now throws(PoolError) in try s.reserve(r, now: now) }
        }
        route(router, .post, "/v1/reservations/{id}/hold", .scheduler, c) { request, context in
            let id = try parameter("id", context)
            let hold = try await decode(ReservationHold.self, request)
            return try await c.perform { s, now throws(PoolError) in try s.holdReservation(id, ttl: hold.ttlSeconds, now: now) }
        }
        route(router, .delete, "/v1/reservations/{id}", .scheduler, c) { _, context in
            let id = try parameter("id", context)
            return try await c.perform { s, now throws(PoolError) in (Empty(), try s.releaseReservation(id, now: now)) }
        }
        route(router, .get, "/v1/events", .reader, c) { request, _ in
            let after = request.uri.queryParameters.get("after").flatMap { Int($0) } ?? 0
            return c.read { $0.events(after: after) }
        }
        return router
    }

    struct Empty: Codable, Sendable {}

    /// 128 random bits in hex: a lease's one-time attach credential.
    static func attachSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let v = generator.next() as UInt64
            let hex = String(v, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    private static func route<T: Encodable & Sendable>(
        _ router: Router<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: RouterPath, _ role: Role, _ c: Controller,
        status: HTTPResponse.Status = .ok,
        _ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> T
    ) {
        router.on(path, method: method) { request, context -> Response in
            do {
                try authorize(request, role, c.configuration)
                let value = try await body(request, context)
                if value is Empty { return Response(status: .noContent) }
                return json(value, status: status)
            } catch let error as PoolError {
                return json(APIErrorBody(code: error.code.rawValue, message: error.message),
                            status: HTTPResponse.Status(code: error.code.httpStatus))
            } catch {
                return json(APIErrorBody(code: PoolError.Code.invalidRequest.rawValue, message: "\(error)"), status: .badRequest)
            }
        }
    }

    private static func authorize(_ request: Request, _ role: Role, _ configuration: ControllerConfiguration) throws(PoolError) {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw PoolError(.unauthorized, "missing bearer token")
        }
        let token = String(header.dropFirst("Bearer ".count))
        if configuration.adminTokens.contains(token) { return }
        if role.contains(.node) && configuration.nodeTokens.contains(token) { return }
        if role.contains(.scheduler) && configuration.schedulerTokens.contains(token) { return }
        if configuration.nodeTokens.contains(token) { throw PoolError(.unauthorized, "a node token may not do this") }
        if configuration.schedulerTokens.contains(token) { throw PoolError(.unauthorized, "a scheduler token may not do this") }
        throw PoolError(.unauthorized, "invalid token")
    }

    private static func parameter(_ name: String, _ context: BasicRequestContext) throws(PoolError) -> String {
        guard let value = context.parameters.get(name) else { throw PoolError(.invalidRequest, "missing \(name)") }
        return value
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw PoolError(.invalidRequest, "malformed \(T.self) document: \(error)")
        }
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
