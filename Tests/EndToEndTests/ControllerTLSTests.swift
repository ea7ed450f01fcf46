import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraPoolAPI
import TesseraWire

/// The controller's own CA, end to end: a real controller makes it in its state folder at the first start and
/// reuses it, serves its API over HTTPS, and issues a joining node its TLS certificate; the CLI, the node and
/// programs verify every hop against `ca.pem`. Plaintext to the HTTPS port, and clients or nodes trusting
/// another CA, are refused; the explicit plaintext flags work and warn.
@Suite(.serialized) struct ControllerTLSTests {
    @Test func theControllersCAIssuesNodeCertificatesAndEveryHopIsVerified() throws {
        let controller = try TestController(ownCA: true)
        let caFile = try #require(controller.caFile)
        let caPEM = try String(contentsOfFile: caFile, encoding: .utf8)
        let keyPath = controller.directory.appendingPathComponent("ca-key.pem").path
        #expect(try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int == 0o600)
        #expect(controller.url.hasPrefix("https://"), "\(controller.url)")
        #expect(controller.process.stderr.contains("made the pool CA"), "\(controller.process.stderr)")

        // The node gets its certificate at registration and serves TLS on --listen with it.
        let node = try PoolNode("node-tls", controller: controller)
        #expect(node.process.stderr.contains("certificate from the pool CA") && node.process.stderr.contains("(TLS)"), "\(node.process.stderr)")
        #expect(controller.process.stderr.contains("issued a TLS certificate to node node-tls"))
        let endpoint = try #require(try controller.admin.get("/v1/nodes", as: [NodeInfo].self).first { $0.name == "node-tls" }?.endpoint)

        // The CLI over HTTPS, verifying against the pool CA; a program with a token reaches the node over TLS.
        let created = controller.cli(["tokens", "create", "--user", "ana"])
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let ok = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "32MiB", "--", Products.sample("vadd")],
                             environment: ["TESSERA_TOKEN": token, "TESSERA_CA": caFile])
        #expect(ok.status == 0 && ok.stdout.contains("vadd OK"), "\(ok.stdout)\(ok.stderr)")

        // Clients trusting another CA refuse the controller and the node.
        let foreignCLI = Command.run(Products.tessera.path, ["nodes", "--controller", controller.url],
                                     environment: ["TESSERA_TOKEN": TestController.adminToken, "TESSERA_CA": TestCA.shared.ca], timeout: 30)
        #expect(foreignCLI.status != 0 && foreignCLI.stderr.contains("TLS handshake failed"), "\(foreignCLI.stderr)")
        let foreignProgram = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "32MiB", "--", Products.sample("vadd")],
                                         environment: ["TESSERA_TOKEN": token, "TESSERA_CA": TestCA.shared.ca])
        #expect(foreignProgram.status != 0 && foreignProgram.stderr.contains("not trusted"), "\(foreignProgram.stderr)")
        // A node trusting another CA does not join (it cannot verify the controller, so it sends no token).
        let tokenFile = controller.directory.appendingPathComponent("node.tokens").path
        let stray = Command.run(Products.tessera.path, [
            "node", "--controller", controller.url, "--node-token-file", tokenFile, "--name", "stray",
            "--socket", controller.directory.appendingPathComponent("stray.sock").path, "--listen", "127.0.0.1:0", "--sim-gpus", "1",
        ], environment: ["TESSERA_CA": TestCA.shared.ca], timeout: 60)
        #expect(stray.status != 0 && stray.stderr.contains("cannot get a TLS certificate"), "\(stray.stderr)")
        #expect(try !controller.admin.get("/v1/nodes", as: [NodeInfo].self).contains { $0.name == "stray" })

        // Plaintext HTTP to the HTTPS port gets no HTTP answer.
        let port = try #require(controller.url.split(separator: ":").last.map(String.init))
        let plain = try RawConnection(tcp: "127.0.0.1:\(port)", plaintext: true)
        plain.send(Array("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestController.adminToken)\r\n\r\n".utf8))
        var answer = [UInt8](repeating: 0, count: 512)
        let n = recv(plain.fd, &answer, answer.count, 0)
        #expect(!String(decoding: answer.prefix(max(0, n)), as: UTF8.self).hasPrefix("HTTP/"), "\(answer.prefix(max(0, n)))")
        // Nor does URLSession's plain http:// to it.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/status")!)
        request.setValue("Bearer \(TestController.adminToken)", forHTTPHeaderField: "Authorization")
        #expect(try blockingFetch(request).1?.statusCode != 200)

        // A restart reuses the CA: same ca.pem, and the CLI still trusts the API.
        controller.kill9()
        try controller.start()
        #expect(try String(contentsOfFile: caFile, encoding: .utf8) == caPEM)
        #expect(!controller.process.stderr.contains("made the pool CA") && controller.process.stderr.contains("pool CA"), "\(controller.process.stderr)")
        let again = controller.cli(["nodes"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func plaintextOnlyWithTheExplicitFlagAndAWarning() throws {
        let controller = try TestController(extraArguments: ["--insecure-plaintext"])
        #expect(controller.url.hasPrefix("http://"))
        #expect(controller.process.stderr.contains("plain HTTP"), "\(controller.process.stderr)")
        let node = try PoolNode("plain-node", controller: controller)
        #expect(node.process.stderr.contains("serves plain TCP") && node.process.stderr.contains("controller is reached over plain HTTP"),
                "\(node.process.stderr)")
        let listed = controller.cli(["nodes"])
        #expect(listed.status == 0 && listed.stdout.contains("plain-node"), "\(listed.stdout)\(listed.stderr)")
        // Without the flag a standalone node refuses to serve --listen in plaintext, saying what to give.
        let refused = Command.run(Products.tessera.path, ["node", "--listen", "127.0.0.1:0", "--allow-anonymous", "--sim-gpus", "1",
                                                          "--socket", controller.directory.appendingPathComponent("x.sock").path], timeout: 30)
        #expect(refused.status != 0 && refused.stderr.contains("--insecure-plaintext"), "\(refused.stderr)")
    }
}
