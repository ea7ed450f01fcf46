import Foundation
import Hummingbird
import TesseraPoolAPI

extension ControllerAPI {
    /// Administrators' actions: cordon, uncordon and drain a node (`/v1/nodes/{name}/…`) or one of its GPUs
    /// (`/v1/nodes/{name}/gpus/{index}/…`), end a lease (`/v1/leases/{id}/end`), and the audit log. Every
    /// attempt is written to the audit log, refused ones (a token that is not an admin's) included.
    static func addAdministration(_ group: RouterGroup<ControllerRequestContext>, controller c: Controller) {
        group.get("/v1/audit") { _, context in
            guard context.caller == .admin else { throw PoolError(.unauthorized, "only an admin token may read the audit log") }
            return JSONReply(try c.auditLog())
        }
        for action in ["cordon", "uncordon", "drain"] {
            let handler: @Sendable (String, Caller?) async throws -> JSONReply<AdminActionReply> = { target, caller in
                try await admitted(c, action: action, target: target, caller: caller)
                return JSONReply(try await c.administer(action: action, target: target, caller: .admin) { s, now throws(PoolError) in
                    let t = try s.target(target)
                    switch action {
                    case "cordon": return s.cordon(t, now: now)
                    case "uncordon": return s.uncordon(t, now: now)
                    default: return s.drain(t, now: now)
                    }
                })
            }
            group.post("/v1/nodes/{name}/\(action)") { _, context in
                try await handler(try parameter("name", context), context.caller)
            }
            group.post("/v1/nodes/{name}/gpus/{index}/\(action)") { _, context in
                try await handler("\(try parameter("name", context))/\(try parameter("index", context))", context.caller)
            }
        }
        group.post("/v1/leases/{id}/end") { _, context in
            let id = try parameter("id", context)
            try await admitted(c, action: "end-lease", target: id, caller: context.caller)
            return JSONReply(try await c.administer(action: "end-lease", target: id, caller: .admin) { s, now throws(PoolError) in
                try s.endLease(id, now: now)
            })
        }
    }

    /// Throws `unauthorized` unless the caller is an admin, after writing the refusal to the audit log.
    private static func admitted(_ c: Controller, action: String, target: String, caller: Caller?) async throws {
        guard caller == .admin else {
            let error = PoolError(.unauthorized, "\(action) needs an admin token; a \(caller?.rawValue ?? "missing") token may not do it")
            await c.refused(action: action, target: target, caller: caller?.rawValue ?? "unknown", error)
            throw error
        }
    }
}
