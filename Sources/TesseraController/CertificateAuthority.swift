import Crypto
import Foundation
import SwiftASN1
import TesseraPoolAPI
import X509

/// The pool's own small certificate authority: an EC P-256 key and a self-signed CA certificate kept in the
/// controller's state folder (`ca.pem`, and `ca-key.pem` readable by its owner only), made at the first start
/// and reused after. It signs the controller's HTTPS certificate and, at registration, each node's
/// certificate, so every client verifies every hop against one bundle: `ca.pem`.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey
    /// `ca.pem`'s text: the bundle clients trust.
    public let certificatePEM: String

    /// Why a CA cannot be loaded or made, or a certificate not issued.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
        /// A file (or option) that could not be read.
        public static func reading(_ what: String) -> Failure { Failure("cannot read \(what)") }
    }

    /// The CA files in `directory`: `ca.pem` and `ca-key.pem`.
    public static func paths(in directory: String) -> (certificate: String, key: String) {
        (directory + "/ca.pem", directory + "/ca-key.pem")
    }

    /// The CA of `directory`, made there when it has none (key file mode 0600). A folder with one of the two
    /// files but not the other is refused rather than overwritten.
    public static func loadOrCreate(directory: String) throws(Failure) -> (CertificateAuthority, created: Bool) {
        let (certPath, keyPath) = paths(in: directory)
        let fm = FileManager.default
        switch (fm.fileExists(atPath: certPath), fm.fileExists(atPath: keyPath)) {
        case (true, true):
            return (try load(certificate: certPath, key: keyPath), false)
        case (false, false):
            let ca = try create()
            do {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let keyPEM = try ca.privateKey.serializeAsPEM().pemString
                // The key is created with its final mode: it is never readable by others, not even for a moment.
                guard fm.createFile(atPath: keyPath, contents: Data(keyPEM.utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw Failure("cannot write \(keyPath)")
                }
                guard fm.createFile(atPath: certPath, contents: Data(ca.certificatePEM.utf8), attributes: [.posixPermissions: 0o644]) else {
                    throw Failure("cannot write \(certPath)")
                }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure("cannot write the pool CA in \(directory): \(error)")
            }
            return (ca, true)
        case (true, false), (false, true):
            throw Failure("\(directory) holds only one of ca.pem and ca-key.pem; restore the other or remove both to make a new CA")
        }
    }

    /// A CA from PEM files (an operator's own CA, or the state folder's).
    public static func load(certificate certPath: String, key keyPath: String) throws(Failure) -> CertificateAuthority {
        guard let certText = try? String(contentsOfFile: certPath, encoding: .utf8) else { throw Failure("cannot read \(certPath)") }
        guard let keyText = try? String(contentsOfFile: keyPath, encoding: .utf8) else { throw Failure("cannot read \(keyPath)") }
        do {
            let certificate = try Certificate(pemEncoded: certText)
            let key = try Certificate.PrivateKey(pemEncoded: keyText)
            guard key.publicKey == certificate.publicKey else { throw Failure("\(keyPath) is not the key of \(certPath)") }
            return CertificateAuthority(certificate: certificate, privateKey: key, certificatePEM: certText)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("cannot read the CA of \(certPath) and \(keyPath): \(error)")
        }
    }

    /// A new CA, valid for ten years.
    static func create() throws(Failure) -> CertificateAuthority {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        do {
            let name = try DistinguishedName {
                OrganizationName("Tessera")
                CommonName("Tessera pool CA")
            }
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: key.publicKey)
                },
                issuerPrivateKey: key)
            return CertificateAuthority(certificate: certificate, privateKey: key, certificatePEM: try certificate.serializeAsPEM().pemString)
        } catch {
            throw Failure("cannot make the pool CA: \(error)")
        }
    }

    /// A server certificate for `hosts` (DNS names or IP addresses) on `publicKey`, valid for a year, as PEM.
    public func issue(commonName: String, hosts: [String], publicKey: Certificate.PublicKey) throws(Failure) -> String {
        var names: [GeneralName] = []
        for host in Set(hosts).sorted() {
            if let ip = Self.ipBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else if Self.isDNSName(host) {
                names.append(.dnsName(host))
            } else {
                throw Failure("'\(host)' is neither a host name nor an IP address")
            }
        }
        guard !names.isEmpty else { throw Failure("a certificate needs at least one host name or address") }
        do {
            let now = Date()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86400),
                issuer: self.certificate.subject, subject: try DistinguishedName { OrganizationName("Tessera"); CommonName(commonName) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(names)
                    SubjectKeyIdentifier(hash: publicKey)
                    AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: self.certificate.publicKey).keyIdentifier)
                },
                issuerPrivateKey: privateKey)
            return try certificate.serializeAsPEM().pemString
        } catch {
            throw Failure("cannot issue a certificate for \(commonName): \(error)")
        }
    }

    /// A new key and a certificate for it (the controller's own HTTPS identity), both PEM.
    public func issueWithKey(commonName: String, hosts: [String]) throws(Failure) -> (certificate: String, key: String) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let certificate = try issue(commonName: commonName, hosts: hosts, publicKey: key.publicKey)
        do { return (certificate, try key.serializeAsPEM().pemString) } catch { throw Failure("cannot write a key: \(error)") }
    }

    /// The 4 or 16 bytes of an IP address literal, nil for anything else.
    static func ipBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Letters, digits, hyphens and dots, at most 253 characters: what a certificate may name.
    static func isDNSName(_ host: String) -> Bool {
        !host.isEmpty && host.utf8.count <= 253 && !host.hasPrefix(".") && !host.hasPrefix("-")
            && host.utf8.allSatisfy { c in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            }
    }
}
