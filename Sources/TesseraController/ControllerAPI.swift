import Foundation
import Hummingbird
import Logging
import NIOCore
import TesseraPoolAPI

/// The controller's HTTP JSON API (docs/openapi.yaml). Every request carries `Authorization: Bearer TOKEN`;
/// middleware reads the token into a ``Caller`` and admits each group of routes to its callers (admins to
/// all), and turns every error into `{"code": …, "message": …}` with the status ``PoolError/Code/httpStatus``
/// gives. Routes only do their work.
public enum ControllerAPI {
    /// The router serving `controller`.
    public static func router(for controller: Controller) -> Router<ControllerRequestContext> {
        let router = Router(context: ControllerRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        // Requests and their durations through swift-metrics (the CLI bootstraps it onto the controller's
        // Prometheus registry, so they appear in /metrics as hb_request_*).
        router.add(middleware: MetricsMiddleware())
        // The dashboard's page carries no data: it signs in with a token it sends as a header (added before the
        // token middleware, which applies only to routes added after it).
        Dashboard.addPage(to: router)
        router.add(middleware: CallerMiddleware(configuration: controller.configuration, failures: controller.authenticationFailures,
                                                verifyUserToken: { [controller] secret in try? controller.verifyToken(secret) }))
        let readers = router.group().add(middleware: RoleMiddleware(allowed: [.node, .scheduler]))
        // Monitoring: read-only views (/metrics, the dashboard's) for metrics tokens and admins.
        let monitors = router.group().add(middleware: RoleMiddleware(allowed: [.metrics]))
        let nodes = router.group().add(middleware: RoleMiddleware(allowed: [.node]))
        let schedulers = router.group().add(middleware: RoleMiddleware(allowed: [.scheduler]))
        let admins = router.group().add(middleware: RoleMiddleware(allowed: []))
        let c = controller

        readers.get("/v1/status") { _, _ in JSONReply(c.read { $0.summary() }) }
        readers.get("/v1/nodes") { _, _ in JSONReply(c.read { $0.nodeInfos() }) }
        nodes.post("/v1/nodes") { request, context in
            let registration = try await decode(NodeRegistration.self, request)
            try c.admitNode(registration.name, context)
            return JSONReply(try await c.perform { s, now throws(PoolError) in
                let changes = try s.register(registration, now: now)
                return (s.nodeInfos().first { $0.name == registration.name }!, changes)
            })
        }
        nodes.post("/v1/nodes/{name}/certificate") { request, context in
            let name = try parameter("name", context)
            try c.admitNode(name, context)
            let ask = try await decode(NodeCertificateRequest.self, request)
            return JSONReply(try c.issueNodeCertificate(name, ask))
        }
        nodes.post("/v1/nodes/{name}/heartbeat") { request, context in
            let name = try parameter("name", context)
            try c.admitNode(name, context)
            let beat = try await decode(NodeHeartbeat.self, request)
            return JSONReply(try await c.perform { s, now in s.heartbeat(node: name, beat, now: now) })
        }
        readers.get("/v1/gpus") { _, _ in JSONReply(c.read { $0.gpuInfos() }) }
        nodes.get("/v1/sessions") { _, _ in
            JSONReply(c.read { s in s.nodes.keys.sorted().flatMap { n in s.nodes[n]!.sessions.map { SessionInfo(node: n, report: $0) } } })
        }
        // Attach secrets appear only in the reply to the request that created the lease.
        nodes.get("/v1/leases") { _, _ in JSONReply(c.read { $0.leases.values.sorted { $0.createdAt < $1.createdAt }.map(\.redacted) }) }
        nodes.get("/v1/leases/{id}") { _, context in
            let id = try parameter("id", context)
            guard let lease = c.read({ $0.leases[id] }) else { throw PoolError(.notFound, "no lease \(id)") }
            return JSONReply(lease.redacted)
        }
        nodes.post("/v1/leases") { request, context in
            var lease = try await decode(LeaseRequest.self, request)
            try c.admitNode(lease.requester, context)
            // Who the program is comes from the token the controller holds, never from what the node wrote.
            if let identity = lease.identity { lease.identity = try c.checkToken(id: identity.tokenID); lease.user = lease.identity?.user }
            let secret = attachSecret()
            let what = "lease for \(lease.program.isEmpty ? "a program" : lease.program) on \(lease.requester)"
            return JSONReply(try await c.allocating(what) { s, now throws(PoolError) in try s.grant(lease, now: now, secret: secret) }, status: .created)
        }
        nodes.post("/v1/leases/{id}/attach") { request, context in
            let id = try parameter("id", context)
            let attach = try await decode(LeaseAttachRequest.self, request)
            try c.admitNode(attach.node, context)
            return JSONReply(try await c.perform { s, now throws(PoolError) in try s.attach(lease: id, attach, now: now) })
        }
        nodes.delete("/v1/leases/{id}") { _, context in
            let id = try parameter("id", context)
            // A node ends only the leases it asked for.
            if let requester = c.read({ $0.leases[id]?.requester }) { try c.admitNode(requester, context) }
            try await c.perform { s, now throws(PoolError) in
                guard s.leases[id] != nil else { throw PoolError(.notFound, "no lease \(id)") }
                return ((), s.release(lease: id, now: now))
            }
            return HTTPResponse.Status.noContent
        }
        admins.post("/v1/placements") { request, _ in
            // A dry run: where a lease would go now, taking nothing.
            let lease = try await decode(LeaseRequest.self, request)
            return JSONReply(try c.read { s throws(PoolError) in
                var scratch = s
                return try scratch.grant(lease, now: Controller.now(), secret: nil).0.vgpus
            })
        }
        readers.get("/v1/reservations") { request, _ in
            // `?consumer=pod/<UID>`: one consumer's reservations (a node looking up a pod's).
            if let consumer = request.uri.queryParameters.get("consumer") { return JSONReply(c.read { $0.reservations(of: consumer) }) }
            return JSONReply(c.read { $0.reservations.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } })
        }
        readers.get("/v1/reservations/{id}") { _, context in
            let id = try parameter("id", context)
            guard let r = c.read({ $0.reservations[id] }) else { throw PoolError(.notFound, "no reservation \(id)") }
            return JSONReply(r)
        }
        schedulers.post("/v1/reservations") { request, _ in
            let r = try await decode(ReservationRequest.self, request)
            return JSONReply(try await c.allocating("reservation for \(r.displayName ?? r.consumer)") { s, now throws(PoolError) in
                try s.reserve(r, now: now)
            }, status: .created)
        }
        schedulers.post("/v1/reservations/{id}/hold") { request, context in
            let id = try parameter("id", context)
            let hold = try await decode(ReservationHold.self, request)
            return JSONReply(try await c.perform { s, now throws(PoolError) in try s.holdReservation(id, ttl: hold.ttlSeconds, now: now) })
        }
        schedulers.delete("/v1/reservations/{id}") { _, context in
            let id = try parameter("id", context)
            try await c.perform { s, now throws(PoolError) in ((), try s.releaseReservation(id, now: now)) }
            return HTTPResponse.Status.noContent
        }
        readers.get("/v1/events") { request, _ in
            let after = request.uri.queryParameters.get("after").flatMap { Int($0) } ?? 0
            return JSONReply(c.read { $0.events(after: after) })
        }
        addTokens(admins: admins, nodes: nodes, controller: c)
        addMonitoring(monitors, controller: c)
        addGroups(router.group(), controller: c)
        addAdministration(router.group(), controller: c)
        return router
    }

    /// 128 random bits in hex: a lease's one-time attach credential.
    static func attachSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let v = generator.next() as UInt64
            let hex = String(v, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func parameter(_ name: String, _ context: ControllerRequestContext) throws(PoolError) -> String {
        guard let value = context.parameters.get(name) else { throw PoolError(.invalidRequest, "missing \(name)") }
        return value
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw PoolError(.invalidRequest, "malformed \(T.self) document: \(error)")
        }
    }
}
