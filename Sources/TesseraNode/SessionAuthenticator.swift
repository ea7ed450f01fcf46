/// Checks the user tokens programs present on TCP connections. A pool node verifies them with its controller
/// (`TesseraNodeAgent`'s `ControllerAuthenticator`); a standalone node has none and admits TCP sessions only
/// with ``NodeConfiguration/allowAnonymous``.
///
/// Called on session threads, outside the node's state lock; may block on the controller.
public protocol SessionAuthenticator: Sendable {
    /// Who `token` says the program is, or why it proves nothing (unknown, expired, revoked).
    func authenticate(token: String) throws(AuthenticationError) -> SessionIdentity

    /// Whether `token` proved valid here lately. A host locked out for failed authentications (a shared login
    /// machine where one user guesses) still gets such tokens checked, so its other users keep working; a
    /// guesser cannot produce one.
    func recentlyVerified(token: String) -> Bool
}

extension SessionAuthenticator {
    public func recentlyVerified(token: String) -> Bool { false }
}

/// Who a session proved to be with a user token.
public struct SessionIdentity: Sendable, Hashable {
    public var user: String
    public var group: String?
    /// `user` or `teacher`.
    public var role: String
    /// The controller's id of the token (`tok-…`), never the secret.
    public var tokenID: String
    public init(user: String, group: String? = nil, role: String = "user", tokenID: String) {
        self.user = user; self.group = group; self.role = role; self.tokenID = tokenID
    }
}

/// Why a session's credential proves nothing; the message is for the program's user.
public struct AuthenticationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The credential was checked and is wrong (counts toward the rate limit); false when it could not be
    /// checked (the controller is unreachable).
    public var rejected: Bool
    public init(_ message: String, rejected: Bool = true) { self.message = message; self.rejected = rejected }
    public var description: String { message }
}
