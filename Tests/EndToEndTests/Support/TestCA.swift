import Foundation

/// The test process's pool CA (made once with the `openssl` tool): every test controller issues certificates
/// with it (`--ca-cert`/`--ca-key`), standalone TCP nodes serve a certificate it signed for 127.0.0.1, and every
/// child process trusts it through `TESSERA_CA` — so all TCP traffic in the pool tests is TLS. Tests of the
/// controller's own state-folder CA start their controller without it.
enum TestCA {
    struct Files: Sendable {
        var ca: String
        var caKey: String
        /// A certificate for 127.0.0.1 and localhost, and its key.
        var cert: String
        var key: String
    }

    static let shared: Files = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-ca-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let made = try make("tests", in: directory)
            return made
        } catch {
            preconditionFailure("cannot make the tests' CA: \(error)")
        }
    }()

    /// A CA and a certificate it signed for 127.0.0.1, in `directory`.
    static func make(_ name: String, in directory: URL) throws -> Files {
        let d = directory.path
        func openssl(_ args: [String]) throws {
            // Not through Command: its children get TESSERA_CA, which is what is being made here.
            let r = RunningCommand("/usr/bin/env", ["openssl"] + args, environment: [:], addingTestCA: false).finish(timeout: 60)
            guard r.status == 0 else { throw TestFailure("openssl \(args.joined(separator: " ")): \(r.stderr)") }
        }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=\(name) CA", "-keyout", "\(d)/\(name)-ca.key", "-out", "\(d)/\(name)-ca.pem"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=node",
                     "-keyout", "\(d)/\(name)-node.key", "-out", "\(d)/\(name)-node.csr"])
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\n".utf8).write(to: directory.appendingPathComponent("\(name)-san.ext"))
        try openssl(["x509", "-req", "-in", "\(d)/\(name)-node.csr", "-CA", "\(d)/\(name)-ca.pem", "-CAkey", "\(d)/\(name)-ca.key",
                     "-CAcreateserial", "-days", "2", "-extfile", "\(d)/\(name)-san.ext", "-out", "\(d)/\(name)-node.pem"])
        return Files(ca: "\(d)/\(name)-ca.pem", caKey: "\(d)/\(name)-ca.key", cert: "\(d)/\(name)-node.pem", key: "\(d)/\(name)-node.key")
    }
}
