import Foundation
import Testing
import TesseraPoolAPI
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One plain HTTP request, waited for.
func blockingFetch(_ request: URLRequest, caFile: String? = TestCA.shared.ca) throws -> (Data?, HTTPURLResponse?) {
    if request.url?.scheme == "https" {
        // The pool's CA is private: verified by the pool API's own HTTPS client.
        guard let reply = try? HTTPTransport.sendWaiting(request, caFile: caFile) else { return (nil, nil) }
        return (reply.body, HTTPURLResponse(url: request.url!, statusCode: reply.status, httpVersion: "HTTP/1.1", headerFields: nil))
    }
    final class Box: @unchecked Sendable { var data: Data?; var response: HTTPURLResponse? }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    URLSession.shared.dataTask(with: request) { d, r, _ in box.data = d; box.response = r as? HTTPURLResponse; done.signal() }.resume()
    done.wait()
    return (box.data, box.response)
}

/// A controller and nodes as separate processes on loopback, driven over HTTP, the CLI and real programs.
@Suite(.serialized) struct PoolTests {
    func spec(_ vgpus: Int = 1, mib: Int = 256, percent: Int = 10, sameNode: Bool = false, node: String? = nil) -> LeaseRequest {
        LeaseRequest(spec: VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent, sameNode: sameNode, node: node),
                     requester: "test", program: "e2e", owner: "tester")
    }

    @Test func tokensAreRequiredAndScoped() throws {
        let controller = try TestController()
        let anonymous = controller.client(token: "wrong")
        #expect(throws: PoolError.self) { try anonymous.get("/v1/nodes", as: [NodeInfo].self) }
        do throws(PoolError) { _ = try anonymous.get("/v1/status", as: PoolSummary.self) } catch { #expect(error.code == .unauthorized) }
        let node = controller.client(token: TestController.nodeToken)
        #expect(try node.get("/v1/nodes", as: [NodeInfo].self).isEmpty)
        // Nodes may not make reservations; admins may.
        do throws(PoolError) {
            _ = try node.post("/v1/reservations", ReservationRequest(consumer: "x", spec: VirtualGPUSpec()), as: Reservation.self)
            Issue.record("a node token made a reservation")
        } catch { #expect(error.code == .unauthorized) }
        // Without any Authorization header at all.
        var bare = URLRequest(url: URL(string: controller.url + "/v1/leases")!)
        bare.httpMethod = "GET"
        let (_, response) = try blockingFetch(bare)
        #expect(response?.statusCode == 401)
        // A malformed body is refused with the API's own error document.
        for body in [Data("not json".utf8), Data("{\"spec\": 7}".utf8)] {
            var bad = URLRequest(url: URL(string: controller.url + "/v1/leases")!)
            bad.httpMethod = "POST"
            bad.setValue("Bearer \(TestController.adminToken)", forHTTPHeaderField: "Authorization")
            bad.httpBody = body
            let (data, reply) = try blockingFetch(bad)
            #expect(reply?.statusCode == 400)
            #expect(try JSONDecoder().decode(APIErrorBody.self, from: data ?? Data()).code == PoolError.Code.invalidRequest.rawValue)
        }
        let cli = controller.cli(["nodes"], token: "wrong")
        #expect(cli.status != 0)
        #expect(cli.stderr.split(separator: "\n").count == 1 && cli.stderr.contains("invalid token"), "\(cli.stderr)")
    }

    @Test func placementAcrossNodesAndCLIListings() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        _ = (a, b)
        // Two 768 MiB vGPUs do not fit one 1 GiB GPU: they come from both nodes, each with its endpoint.
        let lease: Lease = try controller.admin.post("/v1/leases", spec(2, mib: 768))
        #expect(Set(lease.vgpus.map(\.node)) == ["node-a", "node-b"])
        #expect(lease.vgpus.allSatisfy { $0.endpoint?.hasPrefix("127.0.0.1:") == true })
        // A third does not fit anywhere: refused with what is free.
        do throws(PoolError) {
            _ = try controller.admin.post("/v1/leases", spec(1, mib: 768), as: Lease.self)
            Issue.record("overcommitted")
        } catch { #expect(error.code == .unavailable && error.message.contains("free")) }
        let gpus = controller.cli(["gpus", "--output", "json"])
        #expect(gpus.status == 0, "\(gpus.stderr)")
        let decoded = try JSONDecoder().decode([GPUInfo].self, from: Data(gpus.stdout.utf8))
        #expect(decoded.map(\.grantedMemoryMiB) == [768, 768])
        let table = controller.cli(["leases"])
        #expect(table.stdout.contains(lease.id) && table.stdout.contains("node-a/0:768 MiB,10%"), "\(table.stdout)")
        let status = controller.cli(["status"])
        #expect(status.stdout.contains("nodes: 2 up, 0 down; GPUs: 2"), "\(status.stdout)")
        let nodes = controller.cli(["nodes"])
        #expect(nodes.stdout.contains("node-a") && nodes.stdout.contains("up"))
        let top = controller.cli(["top", "--count", "1"])
        #expect(top.status == 0 && top.stdout.contains("node-b/0"), "\(top.stdout)\(top.stderr)")
        // Per vGPU session, top shows the compute each vGPU achieved over the last second, as the node reports it.
        #expect(top.stdout.contains("COMPUTE USED"), "\(top.stdout)")
        try controller.admin.delete("/v1/leases/\(lease.id)")
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty)
        let missing = Command.run(Products.tessera.path, ["leases", "--controller", "http://127.0.0.1:1"],
                                  environment: ["TESSERA_TOKEN": TestController.adminToken], timeout: 30)
        #expect(missing.status == 1 && missing.stderr.hasPrefix("tessera: cannot reach the controller"), "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)
    }

    @Test func programsOnPoolNodesRunUnderLeases() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let holder = a.start("hold", ["16"], memory: "128MiB", compute: 30)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let leases: [Lease] = try controller.admin.get("/v1/leases")
        #expect(leases.count == 1 && leases.first?.vgpus.first?.memoryMiB == 128 && leases.first?.vgpus.first?.computePercent == 30)
        // The heartbeat reports the session under its lease, with the program's identity.
        #expect(controller.wait { try controller.admin.get("/v1/sessions", as: [SessionInfo].self).contains { $0.report.program == "hold" && $0.report.lease == leases.first?.id } })
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).first?.program == "hold" })
        // A program asking for more than the pool has is refused by the controller.
        let big = a.run("memops", memory: "2GiB")
        #expect(big.status != 0)
        #expect(big.stderr.contains("refused") || big.stderr.contains("cannot place"), "\(big.stderr)")
        // Killing the program ends its lease.
        kill(holder.pid, SIGKILL)
        _ = holder.finish(timeout: 10)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        // A program launching kernels keeps its GPU busy: the heartbeat reports it.
        let busy = a.start("vadd", ["1000000", "100000"], memory: "64MiB", compute: 50)
        #expect(controller.wait(timeout: 30) { try controller.admin.get("/v1/gpus", as: [GPUInfo].self).first?.utilizationPercent ?? 0 > 5 })
        busy.signalAndWait(SIGKILL)
        let ok = a.run("vadd", ["1000", "2"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    @Test func deadNodesAreDetectedAndTheirLeasesEnded() throws {
        let controller = try TestController(nodeTimeout: 1.5)
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        let onA: Lease = try controller.admin.post("/v1/leases", spec(node: "node-a"))
        let onB: Lease = try controller.admin.post("/v1/leases", spec(node: "node-b"))
        _ = onB
        a.kill9()
        #expect(controller.wait { try controller.admin.get("/v1/nodes", as: [NodeInfo].self).first { $0.name == "node-a" }?.state == .down })
        let left = try controller.admin.get("/v1/leases", as: [Lease].self)
        #expect(!left.contains { $0.id == onA.id })
        let events = try controller.admin.get("/v1/events", as: [PoolEvent].self)
        #expect(events.contains { $0.kind == "node-down" && $0.message.contains("node-a") })
        // New work goes to the living node.
        let next: Lease = try controller.admin.post("/v1/leases", spec())
        #expect(next.vgpus.map(\.node) == ["node-b"])
        _ = b
    }

    @Test func controllerSurvivesSIGKILLWithLeasesIntact() throws {
        let controller = try TestController(nodeTimeout: 3)
        let a = try PoolNode("node-a", controller: controller, gpus: 2)
        _ = a
        var granted: [Lease] = []
        for _ in 0..<3 { granted.append(try controller.admin.post("/v1/leases", spec(mib: 100, node: "node-a"))) }
        let reservation: Reservation = try controller.admin.post("/v1/reservations", ReservationRequest(consumer: "pod-1234", spec: VirtualGPUSpec(memoryMiB: 300)))
        let oldURL = controller.url
        controller.kill9()
        try controller.start()
        _ = oldURL
        let leases = try controller.admin.get("/v1/leases", as: [Lease].self)
        #expect(Set(leases.map(\.id)) == Set(granted.map(\.id)))
        #expect(try controller.admin.get("/v1/reservations", as: [Reservation].self) == [reservation])
        // Grants still count after the restart: the GPUs' granted memory is what it was.
        let total = try controller.admin.get("/v1/gpus", as: [GPUInfo].self).reduce(0) { $0 + $1.grantedMemoryMiB }
        #expect(total == 600)
        // A claim of the reservation works across the restart.
        var claim = spec()
        claim.reservation = reservation.id
        let claimed: Lease = try controller.admin.post("/v1/leases", claim)
        #expect(claimed.vgpus == reservation.vgpus)
    }
}

/// `tessera up`: controller and node in one process; the CLI finds it through the per-user config file.
@Suite struct UpTests {
    @Test func upServesProgramsAndConfiguresTheCLI() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-up-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        // No TESSERA_CA: the CLI takes the pool CA `tessera up` made from the config file it wrote.
        let env = ["XDG_STATE_HOME": home.appendingPathComponent("state").path, "XDG_CONFIG_HOME": home.appendingPathComponent("config").path,
                   "TESSERA_CA": ""]
        let socket = home.appendingPathComponent("node.sock").path
        let port = 20000 + Int(getpid() % 20000)
        let up = Command.start(Products.tessera.path, ["up", "--listen", "127.0.0.1:\(port)", "--socket", socket, "--sim-gpus", "1",
                                                      "--sim-gpu-memory", "1GiB"], environment: env)
        defer { kill(up.pid, SIGTERM); _ = up.finish(timeout: 10) }
        var status = CommandResult(status: 1, stdout: "", stderr: "")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            status = Command.run(Products.tessera.path, ["status", "--output", "json"], environment: env, timeout: 10)
            if status.status == 0, let s = try? JSONDecoder().decode(PoolSummary.self, from: Data(status.stdout.utf8)), s.nodesUp == 1 { break }
            usleep(200_000)
        }
        let summary = try JSONDecoder().decode(PoolSummary.self, from: Data(status.stdout.utf8))
        #expect(summary.nodesUp == 1 && summary.gpus == 1, "\(status.stdout)\(status.stderr)\(up.stderr)")
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", socket, "--memory", "128MiB", "--", Products.sample("vadd"), "2000", "2"], timeout: 120)
        #expect(r.status == 0 && r.stdout.contains("vadd OK"), "\(r.stdout)\(r.stderr)")
        let events = Command.run(Products.tessera.path, ["leases", "--output", "json"], environment: env, timeout: 10)
        #expect(events.status == 0)
        // HTTPS with a CA made in the state folder at the first start (key readable by its owner only) and
        // recorded in the CLI's config.
        let config = try String(contentsOf: home.appendingPathComponent("config/tessera/cli.json"), encoding: .utf8)
        let caPath = home.appendingPathComponent("state/tessera/ca.pem").path
        #expect(config.contains("https:") && config.contains("ca.pem"), "\(config)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("state/tessera/ca-key.pem").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        #expect(FileManager.default.fileExists(atPath: caPath))
    }
}
