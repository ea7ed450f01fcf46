#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TesseraNode
import TesseraPoolAPI

/// Verifies the user tokens of a pool node's TCP sessions with the controller (`POST /v1/tokens/verify`).
///
/// A verified token is remembered for ``cacheSeconds`` (by its SHA-256, never the secret), so a program's
/// sessions on several nodes and its quick restarts cost no round trip; a token revoked at the controller is
/// therefore refused within that time. Refusals are not remembered (the node's rate limit handles guessing).
public final class ControllerAuthenticator: SessionAuthenticator, Sendable {
    public let client: ControllerClient
    public let cacheSeconds: Double
    private let cache = Mutex<[String: (identity: TokenIdentity, until: Double)]>([:])
    /// When each token (by its SHA-256) last proved valid, kept ``provenSeconds``: such tokens pass a host's
    /// lockout (they are still verified as usual).
    private let proven = Mutex<[String: Double]>([:])
    public let provenSeconds: Double = 600

    public init(client: ControllerClient, cacheSeconds: Double = 3) {
        self.client = client
        self.cacheSeconds = cacheSeconds
    }

    public func authenticate(token: String) throws(AuthenticationError) -> SessionIdentity {
        let key = UserToken.hash(of: token)
        let now = Self.clock()
        if let hit = cache.withLock({ c -> TokenIdentity? in
            guard let entry = c[key] else { return nil }
            if entry.until > now { return entry.identity }
            c[key] = nil
            return nil
        }) {
            return SessionIdentity(hit)
        }
        let identity: TokenIdentity
        do throws(PoolError) {
            identity = try client.blocking.post("/v1/tokens/verify", TokenVerification(secret: token))
        } catch {
            // Only the controller's verdict on the token counts as a failed authentication.
            throw AuthenticationError(error.message, rejected: error.code == .unauthorized)
        }
        // Never past the token's own expiry.
        let until = min(now + cacheSeconds, identity.expiresAt.map { now + max(0, $0 - Self.wallClock()) } ?? .infinity)
        cache.withLock { c in
            if c.count > 10_000 { c = c.filter { $0.value.until > now } }
            c[key] = (identity, until)
        }
        proven.withLock { p in
            if p.count > 10_000 { p = p.filter { now - $0.value < provenSeconds } }
            p[key] = now
        }
        return SessionIdentity(identity)
    }

    public func recentlyVerified(token: String) -> Bool {
        let key = UserToken.hash(of: token)
        let now = Self.clock()
        return proven.withLock { $0[key].map { now - $0 < provenSeconds } ?? false }
    }

    static func clock() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func wallClock() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

extension SessionIdentity {
    init(_ identity: TokenIdentity) {
        self.init(user: identity.user, group: identity.group, role: identity.role.rawValue, tokenID: identity.tokenID)
    }

    /// The pool's document of this identity.
    var tokenIdentity: TokenIdentity {
        TokenIdentity(tokenID: tokenID, user: user, group: group, role: UserToken.Role(rawValue: role) ?? .user)
    }
}
