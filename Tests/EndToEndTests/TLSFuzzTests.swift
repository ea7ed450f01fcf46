import CTesseraPOSIX
import Foundation
import Testing
import TesseraWire

/// Hostile clients over TCP+TLS, where a tenant on the network reaches a node: mutated sessions (valid greetings and
/// requests with bytes flipped, overwritten, cut, repeated or spliced in), sent inside real TLS sessions, and garbage
/// at the TLS layer itself (plaintext, a cut-off ClientHello, a record header announcing too much, bytes injected
/// into an established session beside TLS). Each hostile session ends alone; the node stays up, a neighbour program
/// on the same node over TLS finds every byte of its memory intact, no hostile session remains, and a new program
/// runs.
@Suite(.serialized) struct TLSFuzzTests {
    static let iterations = 160

    @Test func mutatedSessionsOverTLSEndOnlyThemselves() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-tlsfuzz-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try TestCA.make("fuzz", in: directory)
        let node = try TestNode(backend: ["--sim-gpus", "1", "--sim-gpu-memory", "1GiB", "--tls-cert", pool.cert, "--tls-key", pool.key],
                                tcp: true)
        let endpoint = try #require(node.tcpEndpoint)
        let neighbour = Command.start(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "16MiB", "--",
                                                              Products.sample("paged"), "16", "wait"],
                                      environment: ["TESSERA_CA": pool.ca])
        #expect(neighbour.waitForOutput("READY"), "\(neighbour.stderr)\n\(node.log)")
        let neighbourAddress = Self.address(in: neighbour.stdout, after: "READY") ?? 0

        var generator = SystemRandomNumberGenerator()
        let seeds = Self.seeds(target: neighbourAddress)
        var greeted = 0, answered = 0
        var firstFrames: [String: Int] = [:]  // what each mutant got first, for the failure message
        for i in 0..<Self.iterations {
            let mutant = Self.mutate(seeds[i % seeds.count], using: &generator)
            let c = try RawConnection(tcp: endpoint, caFile: pool.ca)
            c.send(mutant)
            shutdown(c.fd, Int32(SHUT_WR))
            let (frames, closed) = c.drain()
            if frames.first?.0.opcode == .reply { greeted += 1 }
            if !frames.isEmpty { answered += 1 }
            firstFrames[Self.describe(frames.first), default: 0] += 1
            #expect(closed, "mutant \(i) left open: \(mutant.prefix(64).map { String(format: "%02x", $0) }.joined())")
            // Whatever a mutant asked, it is answered only about itself: never with another session's data.
            #expect(!frames.contains { $0.0.opcode == .deviceOutput }, "mutant \(i)")
        }

        // Many mutants were read and answered (a greeting, or a fatal frame naming what was wrong), so the fuzzing
        // reached the node's parsers, not only TLS. (A mutant's session may also end unanswered: the client half-closes
        // after sending, which the node takes as a hang-up, and on a loaded machine that can come first.)
        #expect(answered >= 10, "only \(answered) of \(Self.iterations) mutants were answered (\(greeted) greeted): \(firstFrames)")

        // Garbage at the TLS layer: each connection is dropped by the node.
        let tlsGarbage: [(String, [UInt8])] = [
            ("plaintext hello", Self.hello()),
            ("random bytes", (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            ("cut-off ClientHello", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 7, count: 20)),
            ("record header announcing 64 KiB", [0x17, 0x03, 0x03, 0xff, 0xff] + [UInt8](repeating: 0, count: 300)),
        ]
        for (name, bytes) in tlsGarbage {
            let c = try RawConnection(tcp: endpoint, plaintext: true)
            c.send(bytes)
            shutdown(c.fd, Int32(SHUT_WR))
            let (frames, closed) = c.drain()
            #expect(closed && frames.isEmpty, "\(name): \(frames.map(\.0.opcode)), closed \(closed)")
        }
        // Bytes injected beside TLS into a session that has greeted: the record check fails and the session ends.
        let injected = try RawConnection(tcp: endpoint, caFile: pool.ca)
        injected.send(Self.hello())
        let greeting = injected.receiveFrame()
        #expect(greeting?.0.opcode == .reply)
        let raw: [UInt8] = [0x17, 0x03, 0x03, 0x00, 0x20] + [UInt8](repeating: 0x41, count: 32)
        _ = raw.withUnsafeBytes { Glibc.send(injected.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        let (_, injectedClosed) = injected.drain()
        #expect(injectedClosed, "a session with injected bytes was left open")

        // The node serves on; only the neighbour's session remains, and its memory is intact at the same address.
        #expect(node.isRunning)
        let (status, settled) = try node.waitForStatus(timeout: 5) { $0.sessions.count == 1 }
        #expect(settled, "sessions left: \(status.sessions.map(\.programName))")
        #expect(status.sessions.first?.programName == "paged")
        kill(neighbour.pid, SIGUSR1)
        let checked = neighbour.finish(timeout: 60)
        #expect(checked.status == 0 && checked.stdout.contains("INTACT"), "\(checked.stdout)\(checked.stderr)")
        #expect(Self.address(in: checked.stdout, after: "INTACT") == neighbourAddress)
        let fresh = Command.run(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "64MiB", "--", Products.sample("memops")],
                                environment: ["TESSERA_CA": pool.ca])
        #expect(fresh.status == 0, "\(fresh.stdout)\(fresh.stderr)")
        let (after, empty) = try node.waitForStatus(timeout: 20) { $0.sessions.isEmpty && $0.gpus[0].usedMemory == 0 }
        #expect(empty, "after the tests: \(after.sessions.map(\.programName)), \(after.gpus[0].usedMemory) bytes used")
    }

    /// A frame's opcode and, for replies and fatal frames, the status's text.
    static func describe(_ frame: (FrameHeader, [UInt8])?) -> String {
        guard let (header, body) = frame else { return "nothing" }
        let status = body.withUnsafeBytes { b -> String in
            var r = WireReader(b)
            switch header.opcode {
            case .reply: return (try? ReplyHeader(from: &r)).map { "\($0.status)" } ?? "?"
            case .fatal: return (try? ReplyStatus(from: &r)).map { "\($0)" } ?? "?"
            default: return ""
            }
        }
        return "\(header.opcode) \(status.prefix(80))"
    }

    // MARK: Seeds and mutations

    static func hello() -> [UInt8] {
        var w = WireWriter()
        w.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 16 << 20, computePercent: 1, programName: "fuzz", sharesMemory: false),
                flags: .replyExpected, requestID: 1)
        return w.bytes
    }

    /// Valid sessions to mutate: a greeting followed by memory requests, some aimed at `target` (the neighbour's
    /// allocation), which the node must refuse however they are mangled.
    static func seeds(target: UInt64) -> [[UInt8]] {
        func session(_ build: (inout WireWriter) -> Void) -> [UInt8] {
            var w = WireWriter()
            build(&w)
            return hello() + w.bytes
        }
        let payload = [UInt8](repeating: 0x5a, count: 256)
        return [
            session { w in
                w.frame(Allocate(device: 0, size: 1 << 20), flags: .replyExpected, requestID: 2)
                w.frame(MemoryInfo(device: 0), flags: .replyExpected, requestID: 3)
                w.frame(Memset(device: 0, stream: 0, destination: target, value: 0xee, count: 4096), flags: .replyExpected, requestID: 4)
            },
            session { w in
                w.frame(CopyToDevice(device: 0, stream: 0, destination: target, count: payload.count, source: .inline),
                        flags: .replyExpected, requestID: 2)
            } + payload,
            session { w in
                w.frame(CopyFromDevice(device: 0, stream: 0, source: target, count: 4096, destination: .inline),
                        flags: .replyExpected, requestID: 2)
                w.frame(Free(device: 0, address: target), flags: .replyExpected, requestID: 3)
            },
            session { w in
                w.frame(CopyOnDevice(device: 0, stream: 0, destination: target, source: target &+ 4096, count: 4096),
                        flags: .replyExpected, requestID: 2)
                w.frame(NodeStatusRequest(), flags: .replyExpected, requestID: 3)
            },
        ]
    }

    /// One to four random edits of `seed`.
    static func mutate(_ seed: [UInt8], using generator: inout SystemRandomNumberGenerator) -> [UInt8] {
        var bytes = seed
        let interesting: [UInt32] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x0100_0000]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            guard !bytes.isEmpty else { break }
            let at = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:  // flip bits
                bytes[at] ^= UInt8.random(in: 1...255, using: &generator)
            case 1:  // an interesting 32-bit value over a length, count or address
                let value = interesting.randomElement(using: &generator)!
                for k in 0..<4 where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
            case 2:  // cut short
                bytes.removeSubrange(at...)
            case 3:  // random bytes spliced in
                bytes.insert(contentsOf: (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: at)
            case 4:  // a slice repeated
                let end = min(bytes.count, at + Int.random(in: 1...48, using: &generator))
                bytes.insert(contentsOf: bytes[at..<end], at: end)
            default:  // a slice removed
                bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &generator)))
            }
        }
        return bytes
    }

    /// The hexadecimal address a `paged` program printed after `marker`.
    static func address(in output: String, after marker: String) -> UInt64? {
        guard let range = output.range(of: marker + " 0x") else { return nil }
        return UInt64(output[range.upperBound...].prefix { $0.isHexDigit }, radix: 16)
    }
}
