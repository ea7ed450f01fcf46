import Foundation
import Testing
import TesseraWire

/// Program ↔ node TLS: a real node serving TLS on loopback with a certificate of a test CA (made with the
/// `openssl` tool), real programs trusting that CA through `TESSERA_CA`. Plaintext to the TLS port and a
/// program trusting another CA are refused; the node stays up and the trusting program runs.
@Suite(.serialized) struct TLSTests {
    @Test func programsSpeakTLSAndOnlyToTrustedNodes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try TestCA.make("pool", in: directory)
        let other = try TestCA.make("other", in: directory)
        let node = try TestNode(backend: ["--sim-gpus", "1", "--sim-gpu-memory", "1GiB", "--tls-cert", pool.cert, "--tls-key", pool.key],
                                tcp: true)
        let endpoint = try #require(node.tcpEndpoint)
        #expect(node.log.contains("(TLS)"), "\(node.log)")
        // A program trusting the pool's CA runs over TLS.
        let ok = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "64MiB", "--", Products.sample("memops")],
                             environment: ["TESSERA_CA": pool.ca])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)\n\(node.log)")
        // Plaintext to the TLS port: no Tessera reply, the connection is dropped.
        let plain = try RawConnection(tcp: endpoint, plaintext: true)
        var w = WireWriter()
        w.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 16 << 20, computePercent: 1, programName: "plain", sharesMemory: false),
                flags: .replyExpected, requestID: 1)
        plain.send(w.bytes)
        let (frames, closed) = plain.drain()
        #expect(closed && !frames.contains { $0.0.opcode == .reply }, "\(frames.map(\.0.opcode))")
        // A program trusting another CA refuses the node; one that forgot TESSERA_CA cannot talk to it either.
        let foreign = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "64MiB", "--", Products.sample("vadd")],
                                  environment: ["TESSERA_CA": other.ca])
        #expect(foreign.status != 0 && foreign.stderr.contains("not trusted"), "\(foreign.stderr)")
        let bare = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "64MiB", "--", Products.sample("vadd")],
                               environment: ["TESSERA_CA": ""])
        #expect(bare.status != 0, "\(bare.stdout)")
        // A node whose certificate another CA signed is refused by a program trusting the pool's CA.
        let impostor = try TestNode(backend: ["--sim-gpus", "1", "--sim-gpu-memory", "1GiB", "--tls-cert", other.cert, "--tls-key", other.key],
                                    tcp: true)
        let fooled = Command.run(Products.tessera.path, ["run", "--endpoint", try #require(impostor.tcpEndpoint), "--memory", "64MiB", "--",
                                                         Products.sample("vadd")], environment: ["TESSERA_CA": pool.ca])
        #expect(fooled.status != 0 && fooled.stderr.contains("not trusted"), "\(fooled.stderr)")
        // The node is up and serves the trusting program again.
        #expect(node.isRunning)
        let again = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "64MiB", "--", Products.sample("vadd")],
                                environment: ["TESSERA_CA": pool.ca])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    }
}
