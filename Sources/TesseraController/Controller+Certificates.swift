import Crypto
import TesseraPoolAPI
import X509

extension Controller {
    /// Signs node `name`'s public key with the pool CA for the hosts it asks (its node token is the bootstrap
    /// credential: the route admits only the token the node registers with). The key never leaves the node.
    public func issueNodeCertificate(_ name: String, _ request: NodeCertificateRequest) throws(PoolError) -> NodeCertificate {
        guard let tls = configuration.tls else {
            throw PoolError(.conflict, "this controller serves plain HTTP (--insecure-plaintext) and issues no certificates")
        }
        let issued = try tls.nodeCertificate(for: name, request)
        logger.notice("issued a TLS certificate to node \(name) for \(request.hosts.joined(separator: ", "))")
        return issued
    }
}

extension ControllerTLS {
    /// The pool CA's certificate for node `name`'s key, after checking the request (an EC P-256 key, 1…16 host
    /// names or addresses).
    public func nodeCertificate(for name: String, _ request: NodeCertificateRequest) throws(PoolError) -> NodeCertificate {
        guard let ca = authority else {
            throw PoolError(.conflict, "this controller has no CA key to issue node certificates (it serves operator-provided certificates); start the node with --tls-cert and --tls-key")
        }
        guard (1...16).contains(request.hosts.count) else { throw PoolError(.invalidRequest, "a node certificate names 1 to 16 hosts") }
        guard name.count <= 128 else { throw PoolError(.invalidRequest, "node name too long") }
        let key: Certificate.PublicKey
        do { key = try Certificate.PublicKey(pemEncoded: request.publicKeyPEM) } catch {
            throw PoolError(.invalidRequest, "publicKeyPEM is not a PEM public key")
        }
        guard P256.Signing.PublicKey(key) != nil else { throw PoolError(.invalidRequest, "the node's key must be EC P-256") }
        do throws(CertificateAuthority.Failure) {
            let pem = try ca.issue(commonName: "tessera node \(name)", hosts: request.hosts, publicKey: key)
            return NodeCertificate(certificatePEM: pem, caPEM: ca.certificatePEM)
        } catch {
            throw PoolError(.invalidRequest, error.message)
        }
    }
}
