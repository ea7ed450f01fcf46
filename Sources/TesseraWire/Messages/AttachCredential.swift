/// What lets a program attach to vGPUs that its home node obtained for it on another node: the pool lease and
/// a secret the controller generated for that lease and told only the node that asked for it. The node the
/// program attaches to checks both with the controller, so another program cannot take the vGPUs.
public struct AttachCredential: Sendable, Hashable {
    public var leaseID: String
    public var secret: String

    public init(leaseID: String, secret: String) {
        self.leaseID = leaseID
        self.secret = secret
    }

    public func encode(into w: inout WireWriter) {
        w.string(leaseID)
        w.string(secret)
    }

    public init(from r: inout WireReader) throws(WireError) {
        leaseID = try r.string()
        secret = try r.string()
        guard !leaseID.isEmpty, leaseID.utf8.count <= 256, !secret.isEmpty, secret.utf8.count <= 256 else {
            throw WireError(.malformed, "attach credential fields must be 1…256 bytes")
        }
    }
}
