/// A user token the controller issued (`tessera tokens create --user U [--group G] [--role user|teacher]
/// [--expires DURATION]`, `POST /v1/tokens`): who a program (or a person at the CLI) is.
///
/// The controller keeps only the SHA-256 hash of the token's secret (``UserToken/hash(of:)``); the secret itself
/// is shown once, in the reply that created it. A program presents the secret through `TESSERA_TOKEN`: a node
/// verifies it with the controller (`POST /v1/tokens/verify`) before it admits a session that arrived over TCP,
/// and the identity (``user``, ``group``) then goes with the session's lease, events and metrics.
///
/// - ``role`` `user`: the token names one person. `teacher`: a person who manages the members of ``group``
///   (group-scoped access is decided by the pool's group rules, which read this field; a teacher token without
///   a group is refused at creation).
/// - A token is valid from ``createdAt`` until ``expiresAt`` (nil: until revoked) unless ``revokedAt`` is set.
///   Revoked tokens stay listed, so `tessera tokens` shows what was revoked and when.
public struct UserToken: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable, CaseIterable {
        case user, teacher
    }

    /// Whether a token may be used now, and if not why.
    public enum Validity: String, Codable, Sendable {
        case valid, expired, revoked
    }

    /// `tok-…`, how the token is listed and revoked (not secret).
    public var id: String
    public var user: String
    public var group: String?
    public var role: Role
    public var createdAt: Double
    public var expiresAt: Double?
    public var revokedAt: Double?

    public init(id: String, user: String, group: String? = nil, role: Role = .user, createdAt: Double, expiresAt: Double? = nil,
                revokedAt: Double? = nil) {
        self.id = id; self.user = user; self.group = group; self.role = role
        self.createdAt = createdAt; self.expiresAt = expiresAt; self.revokedAt = revokedAt
    }

    public func validity(at now: Double) -> Validity {
        if revokedAt != nil { return .revoked }
        if let e = expiresAt, e <= now { return .expired }
        return .valid
    }

    /// The identity this token proves.
    public var identity: TokenIdentity {
        TokenIdentity(tokenID: id, user: user, group: group, role: role, expiresAt: expiresAt)
    }

    /// What the controller stores for a secret: its SHA-256 in lowercase hex.
    public static func hash(of secret: String) -> String {
        SHA256.hex(Array(secret.utf8))
    }

    /// Every user token's secret starts with this, so a leaked one is recognisable (and told apart from the
    /// static admin/node/metrics/scheduler tokens, which are whatever their files say).
    public static let secretPrefix = "tsr_"

    /// Throws unless `name` can name a user or group: 1…64 characters of letters, digits, `.`, `_`, `-`, `@`.
    public static func checkName(_ name: String, _ what: String) throws(PoolError) {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45 || c == 64
        }
        guard !name.isEmpty, name.utf8.count <= 64, allowed else {
            throw PoolError(.invalidRequest, "a \(what) name is 1…64 letters, digits, '.', '_', '-' or '@' (got '\(name)')")
        }
    }
}

/// `POST /v1/tokens` (admin): a new user token.
public struct TokenRequest: Codable, Sendable, Hashable {
    public var user: String
    public var group: String?
    /// Absent: `user`.
    public var role: UserToken.Role?
    /// Seconds from now until the token expires; absent: until revoked.
    public var expiresInSeconds: Double?
    public init(user: String, group: String? = nil, role: UserToken.Role? = nil, expiresInSeconds: Double? = nil) {
        self.user = user; self.group = group; self.role = role; self.expiresInSeconds = expiresInSeconds
    }
}

/// The reply to `POST /v1/tokens`: the token and its secret, which is never shown again.
public struct IssuedToken: Codable, Sendable, Hashable {
    public var token: UserToken
    public var secret: String
    public init(token: UserToken, secret: String) { self.token = token; self.secret = secret }
}

/// `POST /v1/tokens/verify` (node): is this secret a valid user token, and whose?
public struct TokenVerification: Codable, Sendable, Hashable {
    public var secret: String
    public init(secret: String) { self.secret = secret }
}

/// Who a valid user token says the caller is (the reply to `POST /v1/tokens/verify`).
public struct TokenIdentity: Codable, Sendable, Hashable {
    public var tokenID: String
    public var user: String
    public var group: String?
    public var role: UserToken.Role
    public var expiresAt: Double?
    public init(tokenID: String, user: String, group: String? = nil, role: UserToken.Role = .user, expiresAt: Double? = nil) {
        self.tokenID = tokenID; self.user = user; self.group = group; self.role = role; self.expiresAt = expiresAt
    }
}
