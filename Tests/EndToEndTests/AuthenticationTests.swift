import Foundation
import Testing
import TesseraPoolAPI
import TesseraWire

/// Who may use a node over TCP: a real controller and nodes on loopback, real programs and a hostile client
/// speaking the protocol directly. Anonymous, wrong, expired and revoked tokens are refused with what to
/// present; a valid token works and its user shows on the lease; attach credentials work once per node, only
/// for their own lease; repeated failures are rate limited; the node stays up and other sessions carry on.
@Suite(.serialized) struct AuthenticationTests {

    /// The node's TCP endpoint, as it registered it.
    func endpoint(_ node: PoolNode, _ controller: TestController) throws -> String {
        try #require(try controller.admin.get("/v1/nodes", as: [NodeInfo].self).first { $0.name == node.name }?.endpoint)
    }

    /// A new token's secret through the CLI (`tessera tokens create`).
    func createToken(_ controller: TestController, _ arguments: [String]) throws -> (id: String, secret: String) {
        let r = controller.cli(["tokens", "create"] + arguments)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let secret = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix(UserToken.secretPrefix) && secret.count > 40, "\(r.stdout)")
        let id = try #require(r.stderr.split(separator: " ").dropFirst().first.map(String.init), "\(r.stderr)")
        return (id, secret)
    }

    /// Greets the node over TCP as a program would and returns the reply's status (and reply, if admitted);
    /// the connection is kept open in `keep` when admitted.
    func greet(_ endpoint: String, token: String? = nil, attach: AttachCredential? = nil, keep: inout [RawConnection]) throws -> (ReplyStatus, HelloReply?) {
        let c = try RawConnection(tcp: endpoint)
        var w = WireWriter()
        w.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 64 << 20, computePercent: 5, programName: "hostile", sharesMemory: false,
                      acceptsRemoteDevices: attach != nil, addressWindow: attach == nil ? 0 : 1, deviceBase: attach == nil ? 0 : 1,
                      attach: attach, token: token), flags: .replyExpected, requestID: 1)
        c.send(w.bytes)
        let (header, body) = try #require(c.receiveFrame())
        #expect(header.opcode == .reply)
        return try body.withUnsafeBytes { b in
            var r = WireReader(b)
            let status = try ReplyHeader(from: &r).status
            guard status.isOK else { return (status, nil) }
            keep.append(c)
            return (status, try HelloReply(from: &r))
        }
    }

    @Test func tcpSessionsProveWhoTheyAre() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller)
        let tcp = try endpoint(node, controller)
        // A local program holds a vGPU throughout: nothing below may disturb it.
        let bystander = node.start("hold", ["16"], memory: "32MiB")
        defer { bystander.signalAndWait(SIGKILL) }
        #expect(bystander.waitForOutput("READY"), "\(bystander.stderr)")

        // The scenario of the issue: no token of any kind over TCP is refused, saying what to present.
        let anonymous = Command.run(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("vadd")])
        #expect(anonymous.status != 0 && anonymous.stderr.contains("TESSERA_TOKEN") && anonymous.stderr.contains("tessera tokens create"),
                "\(anonymous.stdout)\(anonymous.stderr)")

        // With a valid token it works, and the lease shows the user.
        let alice = try createToken(controller, ["--user", "alice", "--group", "cs101"])
        let ok = Command.run(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("vadd")],
                             environment: ["TESSERA_TOKEN": alice.secret])
        #expect(ok.status == 0 && ok.stdout.contains("vadd OK"), "\(ok.stdout)\(ok.stderr)\n\(node.process.stderr)")
        let holder = Command.start(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("hold"), "16"],
                                   environment: ["TESSERA_TOKEN": alice.secret])
        defer { holder.signalAndWait(SIGKILL) }
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let leases = try controller.admin.get("/v1/leases", as: [Lease].self)
        let aliceLease = try #require(leases.first { $0.user == "alice" }, "\(leases)")
        #expect(aliceLease.owner == "alice" && aliceLease.group == "cs101" && aliceLease.tokenID == alice.id)
        let listed = controller.cli(["leases"])
        #expect(listed.stdout.contains("alice"), "\(listed.stdout)")
        #expect(try controller.admin.get("/v1/events", as: [PoolEvent].self).contains { $0.kind == "lease-granted" && $0.message.contains("of alice") })
        #expect(node.process.stderr.contains("alice (cs101)"), "\(node.process.stderr)")

        // Hostile: anonymous, wrong, expired and revoked tokens over the raw protocol.
        var kept: [RawConnection] = []
        let (none, _) = try greet(tcp, keep: &kept)
        #expect(none.code == .unauthenticated && none.message.contains("TESSERA_TOKEN"), "\(none)")
        let (wrong, _) = try greet(tcp, token: "tsr_" + String(repeating: "0", count: 64), keep: &kept)
        #expect(wrong.code == .unauthenticated && wrong.message.contains("not a valid user token"), "\(wrong)")
        let shortLived = try createToken(controller, ["--user", "bob", "--expires", "1s"])
        usleep(1_500_000)
        let (expired, _) = try greet(tcp, token: shortLived.secret, keep: &kept)
        #expect(expired.code == .unauthenticated && expired.message.contains("expired"), "\(expired)")

        // Revocation: refused at once (the node may still have the token cached, but the pool grants its user
        // nothing more), and alice's lease ends: her running program loses its session.
        let revoke = controller.cli(["tokens", "revoke", alice.id])
        #expect(revoke.status == 0 && revoke.stdout.contains("revoked \(alice.id)"), "\(revoke.stdout)\(revoke.stderr)")
        var revokedStatus: ReplyStatus?
        #expect(controller.wait(timeout: 10) {
            let (s, _) = try greet(tcp, token: alice.secret, keep: &kept)
            revokedStatus = s
            return !s.isOK
        })
        #expect(revokedStatus?.message.contains("revoked") == true, "\(String(describing: revokedStatus))")
        #expect(controller.wait { try !controller.admin.get("/v1/leases", as: [Lease].self).contains { $0.user == "alice" } })
        #expect(controller.wait { try !node.status().sessions.contains { $0.peer.hasPrefix("127.0.0.1") } })
        let listing = controller.cli(["tokens", "list"])
        #expect(listing.stdout.contains(alice.id) && listing.stdout.contains("revoked") && listing.stdout.contains("expired"), "\(listing.stdout)")
        #expect(kept.isEmpty)

        // The node stays up; the bystander still holds its vGPU and a new valid session works.
        #expect(node.process.process.isRunning)
        #expect(try node.status().sessions.contains { $0.programName == "hold" && $0.peer == "unix" })
        let carol = try createToken(controller, ["--user", "carol"])
        let again = Command.run(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("vadd")],
                                environment: ["TESSERA_TOKEN": carol.secret])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")

        // Guessing is rate limited per host: after the limit, a token the node has not seen valid waits; one it
        // verified lately (carol's, a user sharing the guesser's machine) is still checked and admitted; local
        // programs are unaffected.
        let erin = try createToken(controller, ["--user", "erin"])
        var limited: ReplyStatus?
        for i in 0..<12 {
            let (s, _) = try greet(tcp, token: "tsr_guess\(i)", keep: &kept)
            if s.message.contains("too many failed authentications") { limited = s; break }
        }
        #expect(limited?.code == .unauthenticated, "never rate limited")
        let (blocked, _) = try greet(tcp, token: erin.secret, keep: &kept)
        #expect(blocked.message.contains("too many failed authentications"), "\(blocked)")
        let (proven, _) = try greet(tcp, token: carol.secret, keep: &kept)
        #expect(proven.isOK, "\(proven)")
        kept.removeAll()
        // The node's status (every session's program and user) is served on its unix socket only, never over TCP.
        let probe = try RawConnection(tcp: tcp)
        var statusRequest = WireWriter()
        statusRequest.frame(NodeStatusRequest(), flags: .replyExpected, requestID: 1)
        probe.send(statusRequest.bytes)
        let (statusHeader, statusBody) = try #require(probe.receiveFrame())
        let statusStatus = try statusBody.withUnsafeBytes { b in var r = WireReader(b); return try ReplyHeader(from: &r).status }
        #expect(statusHeader.opcode == .reply && statusStatus.code == .unauthenticated && statusStatus.message.contains("unix socket"), "\(statusStatus)")
        let local = node.run("vadd", ["1000", "1"], memory: "32MiB")
        #expect(local.status == 0, "\(local.stdout)\(local.stderr)")
        #expect(node.process.process.isRunning)
        // The controller's token list and audit log never show a secret.
        let audit = try controller.admin.get("/v1/audit", as: [AuditEntry].self)
        #expect(audit.contains { $0.action == "token-create" } && audit.contains { $0.action == "token-revoke" && $0.target == alice.id })
        let tokensJSON = controller.cli(["tokens", "list", "--output", "json"]).stdout
        #expect(!tokensJSON.contains(alice.secret) && !tokensJSON.contains(carol.secret))
    }

    @Test func aLeasesIdentityComesFromTheControllersTokenRecord() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller)
        let alice = try createToken(controller, ["--user", "alice", "--group", "cs101"])
        let asNode = controller.client(token: TestController.nodeToken)
        // A node that writes another user, group and role beside alice's token id gets a lease of alice's.
        let forged = LeaseRequest(spec: VirtualGPUSpec(vgpus: 1, memoryMiB: 64, computePercent: 5), requester: node.name, program: "forged",
                                  identity: TokenIdentity(tokenID: alice.id, user: "mallory", group: "staff", role: .teacher))
        let lease = try asNode.post("/v1/leases", forged, as: Lease.self)
        #expect(lease.user == "alice" && lease.owner == "alice" && lease.group == "cs101" && lease.tokenID == alice.id, "\(lease)")
        try asNode.delete("/v1/leases/\(lease.id)")
        // An unknown token id gets nothing, and a queued request is held to the same rule.
        var unknown = forged
        unknown.identity = TokenIdentity(tokenID: "tok-nobody", user: "mallory")
        do throws(PoolError) { _ = try asNode.post("/v1/leases", unknown, as: Lease.self); Issue.record("a lease under an unknown token") } catch {
            #expect(error.code == .unauthorized)
        }
        do throws(PoolError) {
            _ = try asNode.post("/v1/queue", QueueRequest(lease: unknown, waitSeconds: 1), as: QueueEntry.self)
            Issue.record("a queued request under an unknown token")
        } catch { #expect(error.code == .unauthorized) }
    }

    @Test func attachCredentialsWorkOncePerNodeAndOnlyForTheirLease() throws {
        let controller = try TestController()
        let cpu = try PoolNode("cpu-box", controller: controller, gpus: 0)
        let gpu = try PoolNode("gpu-box", controller: controller)
        // Two programs on the CPU-only node (raw home sessions on its unix socket): each gets a vGPU on gpu-box
        // and a credential to attach there.
        var homes: [RawConnection] = []
        var credentials: [AttachCredential] = []
        var endpoint = ""
        for _ in 0..<2 {
            let c = try RawConnection(unix: cpu.socketPath)
            var w = WireWriter()
            w.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 128 << 20, computePercent: 5, programName: "home", sharesMemory: false,
                          acceptsRemoteDevices: true), flags: .replyExpected, requestID: 1)
            c.send(w.bytes)
            let (_, body) = try #require(c.receiveFrame())
            let reply = try body.withUnsafeBytes { b -> HelloReply in
                var r = WireReader(b)
                let status = try ReplyHeader(from: &r).status
                guard status.isOK else { throw TestFailure("home session refused: \(status)") }
                return try HelloReply(from: &r)
            }
            let group = try #require(reply.remote.first)
            credentials.append(group.credential)
            endpoint = group.endpoint
            homes.append(c)
        }
        #expect(credentials[0].leaseID != credentials[1].leaseID)
        var kept: [RawConnection] = []
        // Cross-lease: the second lease's id with the first lease's secret.
        let (cross, _) = try greet(endpoint, attach: AttachCredential(leaseID: credentials[1].leaseID, secret: credentials[0].secret), keep: &kept)
        #expect(cross.code == .unauthenticated && cross.message.contains("wrong attach credential"), "\(cross)")
        // The rightful attachment works once; a replay of the same credential is refused.
        let (first, reply) = try greet(endpoint, attach: credentials[0], keep: &kept)
        #expect(first.isOK && reply?.devices.count == 1, "\(first)\n\(gpu.process.stderr)")
        let (replay, _) = try greet(endpoint, attach: credentials[0], keep: &kept)
        #expect(replay.code == .unauthenticated && replay.message.contains("already attached"), "\(replay)")
        // The node is up, holds the one attached session, and still serves the second lease's rightful attach.
        #expect(gpu.process.process.isRunning)
        #expect(try gpu.status().sessions.count == 1)
        let (second, _) = try greet(endpoint, attach: credentials[1], keep: &kept)
        #expect(second.isOK, "\(second)")
        #expect(kept.count == 2)
        kept.removeAll()
        homes.removeAll()
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        #expect(controller.wait { try gpu.status().sessions.isEmpty && cpu.status().sessions.isEmpty })
    }

    @Test func hostileFramesOverTCPEndOnlyTheirSession() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller)
        let tcp = try endpoint(node, controller)
        let dave = try createToken(controller, ["--user", "dave"])
        let neighbour = Command.start(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("hold"), "8"],
                                      environment: ["TESSERA_TOKEN": dave.secret])
        defer { neighbour.signalAndWait(SIGKILL) }
        #expect(neighbour.waitForOutput("READY"), "\(neighbour.stderr)")
        var hello = WireWriter()
        hello.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 16 << 20, computePercent: 1, programName: "evil", sharesMemory: true,
                          token: dave.secret), flags: .replyExpected, requestID: 1)
        var copy = WireWriter()
        copy.frame(CopyToDevice(device: 0, stream: 0, destination: 0, count: 1000, source: .inline), requestID: 2)  // carries no data
        var region = WireWriter()
        region.frame(RegisterHostMemory(region: 1, size: 4096), flags: .replyExpected, requestID: 2)  // no shared memory over TCP
        // Every byte of the token flipped in turn: a malformed or wrong hello, never someone else's session.
        var mangled: [(String, [UInt8], Bool)] = []
        let tokenStart = hello.bytes.count - dave.secret.utf8.count
        for i in stride(from: tokenStart, to: hello.bytes.count, by: 17) {  // 4 tries: below the rate limit
            var b = hello.bytes
            b[i] ^= 0x5a
            mangled.append(("token byte \(i - tokenStart) flipped", b, true))
        }
        let hostile: [(String, [UInt8], Bool)] = [
            ("garbage", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), false),
            ("truncated token", Array(hello.bytes.prefix(hello.bytes.count - 5)), false),
            ("hello then a lying copy", hello.bytes + copy.bytes, true),
            ("hello then a region over TCP", hello.bytes + region.bytes, true),
            ("hello then random bytes", hello.bytes + (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }, true),
        ] + mangled
        for (name, bytes, answered) in hostile {
            let c = try RawConnection(tcp: tcp)
            c.send(bytes)
            if name == "truncated token" { shutdown(c.fd, Int32(SHUT_WR)) }
            let (frames, closed) = c.drain()
            if name.hasPrefix("token byte") {
                // Refused (wrong token) or ended (malformed frame); if admitted, the node would have had to
                // accept a token that is not dave's.
                let status = frames.first.flatMap { f in f.0.opcode == .reply
                    ? f.1.withUnsafeBytes { b -> ReplyStatus? in var r = WireReader(b); return try? ReplyHeader(from: &r).status } : nil }
                #expect(frames.first?.0.opcode == .fatal || status?.code == .unauthenticated, "\(name): \(frames.map(\.0.opcode)) \(String(describing: status))")
                continue
            }
            #expect(closed, "\(name): connection left open")
            if answered { #expect(frames.first?.0.opcode == .reply, "\(name)") }
        }
        // The node serves on; the neighbour's session and its memory are untouched; nothing hostile remains.
        #expect(node.process.process.isRunning)
        #expect(controller.wait(timeout: 5) { try node.status().sessions.map(\.programName) == ["hold"] }, "\(String(describing: try? node.status().sessions))")
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", tcp, "--memory", "32MiB", "--", Products.sample("memops")],
                            environment: ["TESSERA_TOKEN": dave.secret])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    @Test func standaloneNodeAdmitsAnonymousOnlyWhenAllowed() throws {
        let strict = try TestNode(tcp: true, allowAnonymous: false)
        var kept: [RawConnection] = []
        let (refused, _) = try greet(try #require(strict.tcpEndpoint), keep: &kept)
        #expect(refused.code == .unauthenticated && refused.message.contains("--allow-anonymous"), "\(refused)")
        let open = try TestNode(tcp: true)
        #expect(TestController.poll { open.log.contains("--allow-anonymous: TCP sessions without a token are admitted") }, "\(open.log)")
        let (admitted, _) = try greet(try #require(open.tcpEndpoint), keep: &kept)
        #expect(admitted.isOK, "\(admitted)")
        // Refusals that say nothing about a credential (here: a standalone node takes no attachments at all) are
        // not failed authentications: a dozen of them never lock the host out.
        for i in 0..<12 {
            let (s, _) = try greet(try #require(strict.tcpEndpoint), attach: AttachCredential(leaseID: "lease-\(i)", secret: "x"), keep: &kept)
            #expect(!s.isOK && !s.message.contains("too many failed authentications") && s.message.contains("not in a pool"), "\(i): \(s)")
        }
        // A pool node refuses the flag: its TCP sessions need tokens.
        let r = Command.run(Products.tessera.path, ["node", "--controller", "http://127.0.0.1:1", "--allow-anonymous", "--listen", "127.0.0.1:0"], timeout: 30)
        #expect(r.status != 0 && r.stderr.contains("--allow-anonymous is for standalone nodes"), "\(r.stderr)")
    }
}
