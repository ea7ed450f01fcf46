/// `POST /v1/nodes/{name}/certificate`: a node asks the pool's CA for its TLS certificate (node token). The
/// node keeps its private key; it sends only the public key and the names programs dial it by.
public struct NodeCertificateRequest: Codable, Sendable, Hashable {
    /// The node's EC P-256 public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    public var publicKeyPEM: String
    /// Host names and IP addresses for the certificate's subject alternative names (at most 16).
    public var hosts: [String]
    public init(publicKeyPEM: String, hosts: [String]) { self.publicKeyPEM = publicKeyPEM; self.hosts = hosts }
}

/// The reply: the node's certificate and the CA bundle every client verifies against.
public struct NodeCertificate: Codable, Sendable, Hashable {
    /// The node's certificate, PEM.
    public var certificatePEM: String
    /// The pool CA's certificate, PEM (the bundle programs get as `TESSERA_CA`).
    public var caPEM: String
    public init(certificatePEM: String, caPEM: String) { self.certificatePEM = certificatePEM; self.caPEM = caPEM }
}
