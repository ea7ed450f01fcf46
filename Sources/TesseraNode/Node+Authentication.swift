#if canImport(Glibc)
import Glibc
#endif
import TesseraWire

/// Admission of sessions by who they are. A unix-socket session is known by its kernel identity
/// (`SO_PEERCRED`); a TCP session must prove one: a user token (verified by the ``SessionAuthenticator``) or,
/// to attach to vGPUs another node obtained for the program, the lease's attach credential (checked by the
/// pool in ``attach(_:_:identity:addressWindow:)``). Anything else is refused with what to present, unless the
/// node allows anonymous sessions. Failed authentications are limited per peer host.
extension Node {
    /// Who a greeting session is: nil for kernel-identified, attaching-without-token and (when allowed)
    /// anonymous sessions. Throws an `unauthenticated` error whose message tells the user what to present.
    func authenticate(_ peer: PeerIdentity, _ hello: Hello) throws(DeviceError) -> SessionIdentity? {
        guard !peer.isLocal else { return nil }
        let host = peer.host
        // A lockout refuses guesses, not the host's users: a token verified here lately is still checked.
        let proven = hello.token.map { authenticator?.recentlyVerified(token: $0) ?? false } ?? false
        if !proven, let wait = state.withLock({ $0.authenticationFailures.blocked(host, now: Self.clock()) }) {
            throw DeviceError(.unauthenticated, "too many failed authentications from \(host); try again in \(Int(wait.rounded(.up))) s")
        }
        if let token = hello.token {
            guard let authenticator else {
                if configuration.allowAnonymous { return nil }
                throw DeviceError(.unauthenticated, "this node is not in a pool and cannot check TESSERA_TOKEN; it admits only local programs (unix socket)")
            }
            do throws(AuthenticationError) {
                return try authenticator.authenticate(token: token)
            } catch {
                if error.rejected { authenticationFailed(peer) }
                throw DeviceError(.unauthenticated, "TESSERA_TOKEN: \(error.message)")
            }
        }
        if hello.attach != nil { return nil }  // the pool checks the credential when the session attaches
        if configuration.allowAnonymous { return nil }
        throw DeviceError(.unauthenticated, authenticator == nil
            ? "this node admits TCP sessions only with --allow-anonymous; run the program on the node's machine (unix socket)"
            : "this node admits TCP sessions only with a user token: set TESSERA_TOKEN to a token from `tessera tokens create --user NAME` (ask the pool's administrator)")
    }

    /// Counts a failed authentication from `peer`'s host.
    func authenticationFailed(_ peer: PeerIdentity) {
        guard !peer.isLocal else { return }
        state.withLock { $0.authenticationFailures.failed(peer.host, now: Self.clock()) }
        logger.notice("failed authentication", metadata: ["peer": "\(peer.address)"])
    }

    /// Monotonic seconds, for the failure windows.
    static func clock() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

extension PeerIdentity {
    /// The peer's host without its port (`10.0.0.9` of `10.0.0.9:5000`, `::1` of `[::1]:5000`).
    var host: String {
        guard !isLocal, let colon = address.lastIndex(of: ":") else { return address }
        var h = address[..<colon]
        if h.hasPrefix("["), h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        return String(h)
    }
}
