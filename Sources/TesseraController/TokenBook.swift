import TesseraPoolAPI

/// The controller's user tokens (``UserToken``), keyed by the SHA-256 of their secrets: the secret itself is
/// never kept. A pure value (no I/O, no clock, no randomness); ``Controller`` makes its changes durable.
public struct TokenBook: Sendable {
    /// Token by the hash of its secret.
    private(set) var byHash: [String: UserToken] = [:]
    /// Hash by token id.
    private(set) var hashes: [String: String] = [:]

    public init(_ stored: [(hash: String, token: UserToken)] = []) {
        for (hash, token) in stored {
            byHash[hash] = token
            hashes[token.id] = hash
        }
    }

    /// Every token, oldest first.
    public var tokens: [UserToken] { byHash.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }

    /// A new token for `request` with the given id and secret (both random, from the caller). Returns the token
    /// and the hash to store.
    public mutating func issue(_ request: TokenRequest, id: String, secret: String, now: Double) throws(PoolError) -> (UserToken, String) {
        try UserToken.checkName(request.user, "user")
        if let g = request.group { try UserToken.checkName(g, "group") }
        let role = request.role ?? .user
        if role == .teacher && request.group == nil {
            throw PoolError(.invalidRequest, "a teacher token needs --group: a teacher manages one group")
        }
        if let s = request.expiresInSeconds, !(s > 0 && s <= 10 * 365 * 86400) {
            throw PoolError(.invalidRequest, "a token expires 1 s … 10 years from now (got \(s) s)")
        }
        guard hashes[id] == nil else { throw PoolError(.conflict, "token id \(id) exists") }
        let token = UserToken(id: id, user: request.user, group: request.group, role: role, createdAt: now,
                              expiresAt: request.expiresInSeconds.map { now + $0 })
        let hash = UserToken.hash(of: secret)
        byHash[hash] = token
        hashes[id] = hash
        return (token, hash)
    }

    /// Marks a token revoked (it stays listed). Revoking a revoked token changes nothing.
    public mutating func revoke(_ id: String, now: Double) throws(PoolError) -> (UserToken, String) {
        guard let hash = hashes[id], var token = byHash[hash] else { throw PoolError(.notFound, "no token \(id)") }
        if token.revokedAt == nil { token.revokedAt = now }
        byHash[hash] = token
        return (token, hash)
    }

    /// The token with id `id`.
    public func token(id: String) -> UserToken? { hashes[id].flatMap { byHash[$0] } }

    /// The identity a secret proves now, or an `unauthorized` error saying why not.
    public func verify(secret: String, now: Double) throws(PoolError) -> TokenIdentity {
        guard let token = byHash[UserToken.hash(of: secret)] else {
            throw PoolError(.unauthorized, "not a valid user token (mistyped, or not issued by this pool's controller)")
        }
        switch token.validity(at: now) {
        case .valid: return token.identity
        case .expired: throw PoolError(.unauthorized, "token \(token.id) of \(token.user) expired; ask for a new one (`tessera tokens create`)")
        case .revoked: throw PoolError(.unauthorized, "token \(token.id) of \(token.user) was revoked")
        }
    }
}
