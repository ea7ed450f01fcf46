import Foundation
import NIOSSL

/// The controller's TLS identity: the certificate chain and key its HTTPS API serves, and the pool CA that
/// issues nodes' certificates at registration (nil when the operator brought certificates without a CA key:
/// nodes then need their own `--tls-cert`/`--tls-key`).
public struct ControllerTLS: Sendable {
    public var certificateChainPEM: String
    public var privateKeyPEM: String
    public var authority: CertificateAuthority?
    /// The bundle clients verify against (`ca.pem` of the state folder, or the operator's `--ca-cert`), when known.
    public var caBundlePath: String?

    public init(certificateChainPEM: String, privateKeyPEM: String, authority: CertificateAuthority?, caBundlePath: String?) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.authority = authority
        self.caBundlePath = caBundlePath
    }

    /// The default: the state folder's CA (made at the first start) and a fresh certificate it signs for the
    /// names and addresses clients dial — `localhost`, `127.0.0.1`, `::1`, the host name, the listen address
    /// unless it is a wildcard, and `extraHosts`.
    public static func poolCA(stateDirectory: String, listenHost: String, extraHosts: [String]) throws(CertificateAuthority.Failure) -> (ControllerTLS, created: Bool) {
        let (ca, created) = try CertificateAuthority.loadOrCreate(directory: stateDirectory)
        return (try issued(by: ca, bundle: CertificateAuthority.paths(in: stateDirectory).certificate, listenHost: listenHost, extraHosts: extraHosts), created)
    }

    /// A certificate of `ca` for the controller's names (see ``poolCA(stateDirectory:listenHost:extraHosts:)``).
    public static func issued(by ca: CertificateAuthority, bundle: String?, listenHost: String, extraHosts: [String]) throws(CertificateAuthority.Failure) -> ControllerTLS {
        var hosts = ["localhost", "127.0.0.1", "::1", ProcessInfo.processInfo.hostName] + extraHosts
        if !["0.0.0.0", "::", ""].contains(listenHost) { hosts.append(listenHost) }
        hosts = hosts.filter { CertificateAuthority.ipBytes($0) != nil || CertificateAuthority.isDNSName($0) }
        let (chain, key) = try ca.issueWithKey(commonName: "tessera controller", hosts: hosts)
        return ControllerTLS(certificateChainPEM: chain, privateKeyPEM: key, authority: ca, caBundlePath: bundle)
    }

    /// NIOSSL's server configuration for this identity (TLS 1.2 or newer).
    public func serverConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateChainPEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
