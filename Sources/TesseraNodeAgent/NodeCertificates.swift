import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TesseraPoolAPI

/// A pool node's TLS identity from the pool CA: the node makes an EC P-256 key, sends only its public half to
/// the controller (`POST /v1/nodes/{name}/certificate`, authorized by its node token) and serves TLS on
/// `--listen` with the certificate it gets back. Key, certificate and CA bundle go into a fresh folder only
/// the node's user can read.
public enum NodeCertificates {
    /// Where the node's TLS files are.
    public struct Files: Sendable {
        public var certificate: String
        public var key: String
        /// The pool CA's certificate: the bundle programs reaching this or other nodes need as `TESSERA_CA`.
        public var caBundle: String
    }

    public static func obtain(client: ControllerClient, nodeName: String, hosts: [String]) async throws(PoolError) -> Files {
        let key = P256.Signing.PrivateKey()
        let name = nodeName.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? nodeName
        let reply: NodeCertificate = try await client.post(
            "/v1/nodes/\(name)/certificate", NodeCertificateRequest(publicKeyPEM: key.publicKey.pemRepresentation, hosts: hosts))
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("tessera-node-tls-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw PoolError(.storage, "cannot make a folder for the node's TLS key: \(String(cString: strerror(errno)))")
        }
        let directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let files = Files(certificate: directory + "/node.pem", key: directory + "/node-key.pem", caBundle: directory + "/ca.pem")
        let fm = FileManager.default
        guard fm.createFile(atPath: files.key, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]),
              fm.createFile(atPath: files.certificate, contents: Data(reply.certificatePEM.utf8), attributes: [.posixPermissions: 0o644]),
              fm.createFile(atPath: files.caBundle, contents: Data(reply.caPEM.utf8), attributes: [.posixPermissions: 0o644])
        else { throw PoolError(.storage, "cannot write the node's TLS files in \(directory)") }
        return files
    }

    /// The names programs dial a node by, for its certificate: the advertised and listen hosts (unless a
    /// wildcard), loopback names when it listens there or everywhere, and the machine's host name.
    public static func hosts(listenHost: String, advertiseHost: String?) -> [String] {
        var hosts: [String] = [ProcessInfo.processInfo.hostName]
        let wildcard = ["0.0.0.0", "::", ""].contains(listenHost)
        if !wildcard { hosts.append(listenHost) }
        if let advertiseHost, !advertiseHost.isEmpty { hosts.append(advertiseHost) }
        if wildcard || ["127.0.0.1", "localhost", "::1"].contains(listenHost) { hosts += ["localhost", "127.0.0.1", "::1"] }
        var seen = Set<String>()
        return hosts.filter { seen.insert($0).inserted }
    }
}
