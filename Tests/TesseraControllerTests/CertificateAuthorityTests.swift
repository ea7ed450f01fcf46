import Foundation
import Testing
import TesseraPoolAPI
@testable import TesseraController

/// The pool CA of the controller's state folder: made once (key 0600) and reused, refused when half present;
/// the certificates it issues verify with OpenSSL's own `openssl verify` for the names they carry, and a
/// node's certificate request is checked (key type, host names) before anything is signed.
@Suite struct CertificateAuthorityTests {
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ca-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `openssl ARGS`: exit status and output.
    func openssl(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    @Test func madeOnceWithAPrivateKeyAndReused() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (first, created) = try CertificateAuthority.loadOrCreate(directory: dir)
        #expect(created)
        let paths = CertificateAuthority.paths(in: dir)
        #expect(try FileManager.default.attributesOfItem(atPath: paths.key)[.posixPermissions] as? Int == 0o600)
        let (second, createdAgain) = try CertificateAuthority.loadOrCreate(directory: dir)
        #expect(!createdAgain && second.certificatePEM == first.certificatePEM && second.certificate == first.certificate)
        // A folder holding only one of the two files is refused, never overwritten.
        try FileManager.default.removeItem(atPath: paths.key)
        #expect(throws: CertificateAuthority.Failure.self) { try CertificateAuthority.loadOrCreate(directory: dir) }
        #expect(try String(contentsOfFile: paths.certificate, encoding: .utf8) == first.certificatePEM)
    }

    @Test func issuedCertificatesVerifyForTheirNames() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ca, _) = try CertificateAuthority.loadOrCreate(directory: dir)
        let (certificate, key) = try ca.issueWithKey(commonName: "tessera controller", hosts: ["localhost", "127.0.0.1", "::1", "pool.example"])
        #expect(key.contains("PRIVATE KEY"))
        let leaf = dir + "/leaf.pem"
        try certificate.write(toFile: leaf, atomically: true, encoding: .utf8)
        let caFile = CertificateAuthority.paths(in: dir).certificate
        for (flag, name) in [("-verify_ip", "127.0.0.1"), ("-verify_ip", "::1"), ("-verify_hostname", "localhost"), ("-verify_hostname", "pool.example")] {
            let (status, text) = try openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver", flag, name, leaf])
            #expect(status == 0, "\(name): \(text)")
        }
        let (wrongStatus, _) = try openssl(["verify", "-CAfile", caFile, "-verify_hostname", "other.example", leaf])
        #expect(wrongStatus != 0)
        // Another CA's bundle does not verify it.
        let other = try folder()
        defer { try? FileManager.default.removeItem(atPath: other) }
        _ = try CertificateAuthority.loadOrCreate(directory: other)
        let (foreignStatus, _) = try openssl(["verify", "-CAfile", CertificateAuthority.paths(in: other).certificate, leaf])
        #expect(foreignStatus != 0)
    }

    @Test func nodeCertificateRequestsAreChecked() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (tls, _) = try ControllerTLS.poolCA(stateDirectory: dir, listenHost: "127.0.0.1", extraHosts: [])
        // A public key made by OpenSSL, as any node could.
        _ = try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", dir + "/node.key"])
        _ = try openssl(["ec", "-in", dir + "/node.key", "-pubout", "-out", dir + "/node.pub"])
        let publicKey = try String(contentsOfFile: dir + "/node.pub", encoding: .utf8)
        let issued = try tls.nodeCertificate(for: "gpu-1", NodeCertificateRequest(publicKeyPEM: publicKey, hosts: ["10.0.0.7", "gpu-1"]))
        #expect(issued.caPEM == tls.authority?.certificatePEM)
        try issued.certificatePEM.write(toFile: dir + "/node.pem", atomically: true, encoding: .utf8)
        let (status, text) = try openssl(["verify", "-CAfile", CertificateAuthority.paths(in: dir).certificate, "-verify_ip", "10.0.0.7", dir + "/node.pem"])
        #expect(status == 0, "\(text)")
        for bad in [NodeCertificateRequest(publicKeyPEM: "junk", hosts: ["gpu-1"]),
                    NodeCertificateRequest(publicKeyPEM: publicKey, hosts: []),
                    NodeCertificateRequest(publicKeyPEM: publicKey, hosts: ["a b"])] {
            #expect(throws: PoolError.self) { try tls.nodeCertificate(for: "gpu-1", bad) }
        }
    }
}
