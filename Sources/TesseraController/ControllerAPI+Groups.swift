import Foundation
import Hummingbird
import TesseraPoolAPI

extension ControllerAPI {
    /// Groups (`/v1/groups`), the waiting queue (`/v1/queue`) and usage accounting (`/v1/usage`).
    /// Admins manage groups; a teacher's token sees and manages only its own group (members and per-member
    /// limits, not its quota or priority), its queue and its usage; nodes (and admins) queue requests;
    /// monitoring tokens may read.
    static func addGroups(_ group: RouterGroup<ControllerRequestContext>, controller c: Controller) {
        group.get("/v1/groups") { _, context in
            try allow(context, [.admin, .metrics, .node, .scheduler, .teacher])
            let all = c.read { $0.groupInfos() }
            return JSONReply(context.teacherGroup.map { own in all.filter { $0.group.name == own } } ?? all)
        }
        group.put("/v1/groups") { request, context in
            if let own = context.teacherGroup {
                throw PoolError(.unauthorized, "a teacher of group \(own) may not replace every group; PUT /v1/groups/\(own) changes that group")
            }
            try allow(context, [.admin])
            let document = try await decode(GroupsDocument.self, request)
            try await c.perform { s, now throws(PoolError) in ((), try s.applyGroups(document, now: now)) }
            return JSONReply(c.read { $0.groupInfos() })
        }
        group.get("/v1/groups/{name}") { _, context in
            let name = try parameter("name", context)
            try allow(context, [.admin, .metrics, .node, .scheduler, .teacher], group: name)
            guard let info = c.read({ s in s.groupInfos().first { $0.group.name == name } }) else { throw PoolError(.notFound, "no group \(name)") }
            return JSONReply(info)
        }
        group.put("/v1/groups/{name}") { request, context in
            let name = try parameter("name", context)
            try allow(context, [.admin, .teacher], group: name)
            let definition = try await decode(GroupDefinition.self, request)
            guard definition.name == name else { throw PoolError(.invalidRequest, "the document names group \(definition.name), the path \(name)") }
            let teacher = context.caller == .teacher
            try await c.perform { s, now throws(PoolError) in
                if teacher {
                    // A teacher manages members and per-member limits within the quota and priority an admin set.
                    guard let current = s.groups[name] else { throw PoolError(.notFound, "no group \(name)") }
                    guard current.quota == definition.quota, current.priority == definition.priority else {
                        throw PoolError(.unauthorized, "a teacher of group \(name) may not change its quota or priority; an admin may")
                    }
                }
                return ((), try s.putGroup(definition, now: now))
            }
            return JSONReply(c.read { s in s.groupInfos().first { $0.group.name == name }! })
        }
        group.delete("/v1/groups/{name}") { _, context in
            let name = try parameter("name", context)
            if let own = context.teacherGroup { throw PoolError(.unauthorized, "a teacher of group \(own) may not delete groups") }
            try allow(context, [.admin])
            try await c.perform { s, now throws(PoolError) in ((), try s.deleteGroup(name, now: now)) }
            return HTTPResponse.Status.noContent
        }
        group.get("/v1/usage") { request, context in
            let asked: String? = request.uri.queryParameters.get("group")
            try allow(context, [.admin, .metrics, .teacher], group: asked ?? context.teacherGroup)
            let since = try time(request.uri.queryParameters.get("since"), default: 0)
            return JSONReply(try c.usage(since: since, group: asked ?? context.teacherGroup))
        }
        group.get("/v1/queue") { _, context in
            try allow(context, [.admin, .metrics, .node, .scheduler, .teacher])
            let all = c.read { $0.queueEntries() }
            return JSONReply(context.teacherGroup.map { own in all.filter { $0.group == own } } ?? all)
        }
        group.post("/v1/queue") { request, context in
            try allow(context, [.admin, .node])
            var q = try await decode(QueueRequest.self, request)
            try c.admitNode(q.lease.requester, context)
            // As for a lease: the identity is the token's as the controller holds it, and only while it is valid.
            if let identity = q.lease.identity { q.lease.identity = try c.checkToken(id: identity.tokenID); q.lease.user = q.lease.identity?.user }
            let secret = attachSecret()
            let what = "queued lease for \(q.lease.program.isEmpty ? "a program" : q.lease.program) on \(q.lease.requester)"
            return JSONReply(try await c.allocating(what) { s, now throws(PoolError) in try s.enqueue(q, now: now, secret: secret) },
                             status: .created)
        }
        group.get("/v1/queue/{id}") { request, context in
            try allow(context, [.admin, .node])
            let id = try parameter("id", context)
            // Long poll: up to `wait` seconds (at most 2) for the entry to be granted or to move.
            let window = min(2, max(0, Double(request.uri.queryParameters.get("wait") ?? "0") ?? 0))
            let first = try await c.perform { s, now throws(PoolError) in try s.collect(id, now: now) }
            guard first.state == .waiting, window > 0 else { return JSONReply(first) }
            let deadline = ContinuousClock.now + .milliseconds(Int(window * 1000))
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
                let moved = c.read { s -> Bool in
                    guard let w = s.waiters.first(where: { $0.id == id }) else { return true }
                    return w.state == .granted || s.entry(w).position != first.position
                }
                if moved { break }
            }
            return JSONReply(try await c.perform { s, now throws(PoolError) in try s.collect(id, now: now) })
        }
        group.delete("/v1/queue/{id}") { _, context in
            try allow(context, [.admin, .node])
            let id = try parameter("id", context)
            try await c.perform { s, now throws(PoolError) in ((), try s.leaveQueue(id, now: now)) }
            return HTTPResponse.Status.noContent
        }
    }

    /// Throws `unauthorized` unless the caller is one of `callers`; a teacher only for its own group (`group`:
    /// the group the request touches).
    static func allow(_ context: ControllerRequestContext, _ callers: Set<Caller>, group: String? = nil) throws(PoolError) {
        guard let caller = context.caller else { throw PoolError(.unauthorized, "missing bearer token") }
        guard callers.contains(caller) else { throw PoolError(.unauthorized, "a \(caller.rawValue) token may not do this") }
        if caller == .teacher, let own = context.teacherGroup, let group, group != own {
            throw PoolError(.unauthorized, "a teacher of group \(own) may not touch group \(group)")
        }
    }

    /// A time given as seconds since 1970, an ISO 8601 date (`2026-12-01` or `2026-12-01T10:00:00Z`), or an age
    /// like `24h`, `7d`, `30m`.
    static func time(_ text: String?, default value: Double) throws(PoolError) -> Double {
        guard let text, !text.isEmpty else { return value }
        if let seconds = Double(text) { return seconds }
        if let unit = text.last, let amount = Double(text.dropLast()), let scale = ["s": 1.0, "m": 60, "h": 3600, "d": 86_400][String(unit)] {
            return Date().timeIntervalSince1970 - amount * scale
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date.timeIntervalSince1970 }
        iso.formatOptions = [.withFullDate]
        if let date = iso.date(from: text) { return date.timeIntervalSince1970 }
        throw PoolError(.invalidRequest, "since: '\(text)' is not a time (seconds since 1970, 2026-12-01, 2026-12-01T10:00:00Z, or an age like 24h)")
    }
}
