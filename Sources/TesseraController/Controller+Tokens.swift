import Foundation
import TesseraPoolAPI

extension Controller {
    /// Issues a user token: stores its hash durably and returns the secret, which is never shown again.
    public func issueToken(_ request: TokenRequest) async throws -> IssuedToken {
        let secret = UserToken.secretPrefix + Self.randomHex(bytes: 32)
        let now = Controller.now()
        let (token, hash) = try tokens.withLock { (book) throws(PoolError) -> (UserToken, String) in
            var id = "tok-" + Self.randomHex(bytes: 6)
            while book.tokens.contains(where: { $0.id == id }) { id = "tok-" + Self.randomHex(bytes: 6) }
            var scratch = book
            let issued = try scratch.issue(request, id: id, secret: secret, now: now)
            try store.putToken(issued.0, hash: issued.1)
            book = scratch
            return issued
        }
        _ = hash
        let who = token.group.map { "\(token.user) (group \($0), \(token.role.rawValue))" } ?? "\(token.user) (\(token.role.rawValue))"
        try await perform { s, now in
            ((), s.audit(AuditEntry(time: now, action: "token-create", target: token.id, caller: Caller.admin.rawValue, outcome: "done",
                                    message: "token \(token.id) for \(who)\(token.expiresAt.map { ", expires \(Self.format($0))" } ?? "")")))
        }
        logger.notice("issued token \(token.id) for \(who)")
        return IssuedToken(token: token, secret: secret)
    }

    /// Revokes a token: nodes refuse it within their cache time (seconds), and the leases it obtained end (their
    /// nodes end the sessions at their next heartbeat).
    public func revokeToken(_ id: String) async throws -> UserToken {
        let now = Controller.now()
        let token = try tokens.withLock { (book) throws(PoolError) -> UserToken in
            var scratch = book
            let (token, hash) = try scratch.revoke(id, now: now)
            try store.putToken(token, hash: hash)
            book = scratch
            return token
        }
        let ended = try await perform { (s: inout PoolState, now: Double) throws(PoolError) -> ([String], [PoolState.Change]) in
            var changes: [PoolState.Change] = []
            let held = s.leases.values.filter { $0.tokenID == id }.map(\.id).sorted()
            for lease in held { changes += s.release(lease: lease, now: now, reason: "its token \(id) was revoked") }
            changes += s.audit(AuditEntry(time: now, action: "token-revoke", target: id, caller: Caller.admin.rawValue, outcome: "done",
                                          message: "token \(id) of \(token.user) revoked; \(held.count) lease(s) ended"))
            return (held, changes)
        }
        logger.notice("revoked token \(id) of \(token.user); ended \(ended.count) lease(s)")
        return token
    }

    /// The identity a user token's secret proves now, or an `unauthorized` error saying why not.
    public func verifyToken(_ secret: String) throws(PoolError) -> TokenIdentity {
        let now = Controller.now()
        return try tokens.withLock { (book) throws(PoolError) -> TokenIdentity in try book.verify(secret: secret, now: now) }
    }

    /// The identity of the token with this id (user, group, role as the controller holds them); throws unless it
    /// is still valid: a node may have verified it a moment before it was revoked (its cache), but the pool
    /// grants nothing more under it.
    @discardableResult
    public func checkToken(id: String) throws(PoolError) -> TokenIdentity {
        let now = Controller.now()
        guard let token = tokens.withLock({ $0.token(id: id) }) else { throw PoolError(.unauthorized, "unknown token \(id)") }
        switch token.validity(at: now) {
        case .valid: return token.identity
        case .expired: throw PoolError(.unauthorized, "token \(id) of \(token.user) expired")
        case .revoked: throw PoolError(.unauthorized, "token \(id) of \(token.user) was revoked")
        }
    }

    /// Every token (revoked and expired ones included), oldest first.
    public func listTokens() -> [UserToken] { tokens.withLock { $0.tokens } }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for _ in 0..<bytes {
            let b = UInt8.random(in: 0...255, using: &generator)
            out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func format(_ time: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: time))
    }
}
