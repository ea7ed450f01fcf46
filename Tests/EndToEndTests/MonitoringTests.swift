import Foundation
import Testing
import TesseraPoolAPI
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Central monitoring and management with a real controller and nodes: `/metrics` of both parsed by Prometheus'
/// own Python parser and checked against what runs, the administrators' actions over the API and the CLI (and
/// their refusal without an admin token), and the dashboard in a real headless Chromium.
@Suite(.serialized) struct MonitoringTests {
    /// One parsed sample of an exposition.
    struct Sample: Decodable {
        var family: String
        var type: String
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// `.venv-py`'s python with prometheus-client and Playwright (scripts/setup-python.sh installs them).
    static let python: String = {
        let script = Products.packageRoot.appendingPathComponent("scripts/setup-python.sh").path
        let result = Command.run("/bin/bash", [script], timeout: 1200)
        precondition(result.status == 0, "setting up the Python environment failed:\n\(result.stderr)")
        return result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }()

    static func script(_ name: String) -> String { Products.packageRoot.appendingPathComponent("scripts/\(name)").path }

    /// GETs `path` with `token`; the status and body.
    func fetch(_ url: String, token: String? = nil) throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try blockingFetch(request)
        return (response?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
    }

    /// Parses an exposition with prometheus_client's parser.
    func parse(_ text: String) throws -> [Sample] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let r = Command.run("/bin/bash", ["-c", "exec \"$0\" \"$1\" < \"$2\"", Self.python, Self.script("metrics-to-json.py"), input.path])
        guard r.status == 0 else { throw TestFailure("the Prometheus parser refused the exposition: \(r.stderr)\n\(text.prefix(2000))") }
        return try JSONDecoder().decode([Sample].self, from: Data(r.stdout.utf8))
    }

    func scrape(_ controller: TestController) throws -> [Sample] {
        let (status, body) = try fetch(controller.url + "/metrics", token: TestController.metricsToken)
        guard status == 200 else { throw TestFailure("/metrics answered \(status): \(body)") }
        return try parse(body)
    }

    func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }?.value
    }

    @Test func metricsOfControllerAndNodeMatchWhatRuns() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller, extraArguments: ["--metrics-listen", "127.0.0.1:0"])
        // Only metrics and admin tokens may scrape.
        #expect(try fetch(controller.url + "/metrics").0 == 401)
        #expect(try fetch(controller.url + "/metrics", token: TestController.nodeToken).0 == 401)
        #expect(try fetch(controller.url + "/metrics", token: TestController.adminToken).0 == 200)
        // A metrics token reads, but changes nothing.
        do throws(PoolError) {
            _ = try controller.client(token: TestController.metricsToken)
                .post("/v1/leases", LeaseRequest(spec: VirtualGPUSpec(), requester: "x"), as: Lease.self)
            Issue.record("a metrics token was granted a lease")
        } catch { #expect(error.code == .unauthorized) }

        let idle = try scrape(controller)
        #expect(value(idle, "tessera_build_info", ["component": "controller"]) == 1)
        #expect(value(idle, "tessera_node_up", ["node": "node-a"]) == 1)
        let beat = try #require(value(idle, "tessera_node_last_heartbeat_timestamp_seconds", ["node": "node-a"]))
        #expect(abs(beat - Date().timeIntervalSince1970) < 10)
        #expect(value(idle, "tessera_gpu_memory_capacity_bytes", ["node": "node-a", "gpu_index": "0"]) == Double(1 << 30))
        let uuid = try #require(idle.first { $0.name == "tessera_gpu_memory_capacity_bytes" }?.labels["gpu_uuid"])
        #expect(uuid.hasPrefix("GPU-") && uuid.count == 40, "\(uuid)")
        #expect(!idle.contains { $0.name.hasPrefix("tessera_vgpu_") })

        // A program holds a vGPU: its series exist from the grant, with the lease's identity.
        let holder = node.start("hold", ["96"], memory: "128MiB", compute: 30)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let lease = try #require(try controller.admin.get("/v1/leases", as: [Lease].self).first)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).first?.program == "hold" })
        #expect(controller.wait {
            let s = try scrape(controller)
            return value(s, "tessera_vgpu_memory_used_bytes", ["lease": lease.id]) ?? 0 >= Double(96 << 20)
        })
        let busy = try scrape(controller)
        let vgpu = ["lease": lease.id, "node": "node-a", "gpu_index": "0", "gpu_uuid": uuid, "program": "hold"]
        #expect(value(busy, "tessera_vgpu_memory_limit_bytes", vgpu) == Double(128 << 20))
        #expect(value(busy, "tessera_vgpu_compute_share_ratio", vgpu) == 0.3)
        #expect(value(busy, "tessera_vgpu_last_active_timestamp_seconds", vgpu) ?? 0 >= lease.createdAt)
        #expect(busy.first { $0.name == "tessera_vgpu_compute_utilization_ratio" && $0.labels["lease"] == lease.id } != nil)
        #expect(value(busy, "tessera_gpu_memory_allocated_bytes", ["node": "node-a", "gpu_index": "0"]) == Double(128 << 20))
        #expect(value(busy, "tessera_gpu_compute_allocated_ratio", ["node": "node-a", "gpu_index": "0"]) == 0.3)
        #expect(value(busy, "tessera_allocation_requests_total", ["result": "granted"]) == 1)
        #expect(value(busy, "tessera_pool_vgpus") == 1)
        #expect(busy.first { $0.name == "tessera_allocation_wait_seconds_count" }?.value == 1)
        #expect(busy.first { $0.family == "tessera_allocation_wait_seconds" }?.type == "histogram")
        #expect(busy.first { $0.family == "tessera_allocation_requests" }?.type == "counter")

        // The node's own /metrics: its GPU and the session's vGPU, under the same lease.
        let log = node.process.stderr
        let range = try #require(log.range(of: "metrics on 127.0.0.1:"), "\(log)")
        let port = log[range.upperBound...].prefix { $0.isNumber }
        let (nodeStatus, nodeBody) = try fetch("https://127.0.0.1:\(port)/metrics")
        #expect(nodeStatus == 200)
        let local = try parse(nodeBody)
        #expect(value(local, "tessera_gpu_memory_capacity_bytes", ["node": "node-a", "gpu_index": "0", "gpu_uuid": uuid]) == Double(1 << 30))
        #expect(value(local, "tessera_vgpu_memory_limit_bytes", ["node": "node-a", "lease": lease.id, "program": "hold"]) == Double(128 << 20))
        #expect(value(local, "tessera_vgpu_memory_used_bytes", ["lease": lease.id]) ?? 0 >= Double(96 << 20))
        #expect(value(local, "tessera_node_sessions", ["node": "node-a"]) == 1)

        // A request that cannot fit is refused, counted with its reason and told in the event feed.
        let big = node.run("memops", memory: "2GiB")
        #expect(big.status != 0)
        let refused = try scrape(controller)
        #expect(value(refused, "tessera_allocation_requests_total", ["result": "refused", "reason": "unavailable"]) == 1)
        #expect(try controller.admin.get("/v1/events", as: [PoolEvent].self).contains { $0.kind == "refused" && $0.message.contains("free") })

        // The program ends: its series vanish and the end is counted.
        holder.signalAndWait(SIGKILL)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        let after = try scrape(controller)
        #expect(!after.contains { $0.name.hasPrefix("tessera_vgpu_") })
        #expect(value(after, "tessera_leases_ended_total", ["reason": "session_ended"]) == 1
                || value(after, "tessera_leases_ended_total", ["reason": "released"]) == 1)
        #expect(value(after, "tessera_gpu_memory_allocated_bytes", ["node": "node-a"]) == 0)
        #expect(controller.wait { try parse(try fetch("https://127.0.0.1:\(port)/metrics").1).allSatisfy { !$0.name.hasPrefix("tessera_vgpu_") } })
    }

    @Test func adminActionsOverTheCLIAreAuditedAndRefusedWithoutAnAdminToken() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller, gpus: 2)
        let b = try PoolNode("node-b", controller: controller)
        _ = b
        // A read-only token may not cordon: refused in one line, and audited.
        let denied = controller.cli(["cordon", "node-a"], token: TestController.metricsToken)
        #expect(denied.status == 1 && denied.stderr.contains("needs an admin token"), "\(denied.stderr)")
        #expect(try controller.admin.get("/v1/nodes", as: [NodeInfo].self).allSatisfy { $0.cordoned != true })

        let cordon = controller.cli(["cordon", "node-a"])
        #expect(cordon.status == 0 && cordon.stdout.contains("node-a cordoned"), "\(cordon.stdout)\(cordon.stderr)")
        // Placement honours the cordon: new leases go to node-b; asking for node-a is a conflict.
        let spec = VirtualGPUSpec(memoryMiB: 64, computePercent: 5)
        for _ in 0..<3 {
            let l: Lease = try controller.admin.post("/v1/leases", LeaseRequest(spec: spec, requester: "test"))
            #expect(l.vgpus.map(\.node) == ["node-b"])
            try controller.admin.delete("/v1/leases/\(l.id)")
        }
        var pinned = spec
        pinned.node = "node-a"
        do throws(PoolError) {
            _ = try controller.admin.post("/v1/leases", LeaseRequest(spec: pinned, requester: "test"), as: Lease.self)
            Issue.record("placed on a cordoned node")
        } catch { #expect(error.code == .conflict && error.message.contains("cordoned")) }
        #expect(controller.cli(["uncordon", "node-a"]).stdout.contains("uncordoned"))

        // Cordoning one GPU: the node's other GPU still takes vGPUs.
        #expect(controller.cli(["cordon", "node-a/0"]).status == 0)
        let gpus = try controller.admin.get("/v1/gpus", as: [GPUInfo].self)
        #expect(gpus.first { $0.node == "node-a" && $0.index == 0 }?.cordoned == true)
        #expect(gpus.first { $0.node == "node-a" && $0.index == 1 }?.cordoned == false)
        pinned.memoryMiB = 700
        let onOne: Lease = try controller.admin.post("/v1/leases", LeaseRequest(spec: pinned, requester: "test"))
        #expect(onOne.vgpus.map(\.gpu) == [1])
        #expect(controller.cli(["cordon", "node-a/7"]).stderr.contains("no GPU 7"))

        // Draining a GPU ends the program running there.
        #expect(controller.cli(["uncordon", "node-a"]).status == 0)
        try controller.admin.delete("/v1/leases/\(onOne.id)")
        let holder = a.start("hold", ["16"], memory: "64MiB", compute: 10)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let held = try #require(try controller.admin.get("/v1/leases", as: [Lease].self).first)
        let drain = controller.cli(["drain", "node-a/\(held.vgpus[0].gpu)", "--output", "json"])
        #expect(drain.status == 0, "\(drain.stderr)")
        let reply = try JSONDecoder().decode(AdminActionReply.self, from: Data(drain.stdout.utf8))
        #expect(reply.endedLeases == [held.id])
        // The node hears on its next heartbeat and ends the session (the program, paused, learns on its next call).
        #expect(controller.wait { try controller.admin.get("/v1/sessions", as: [SessionInfo].self).allSatisfy { $0.report.lease != held.id } })
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty)
        holder.signalAndWait(SIGKILL)

        // `tessera end LEASE`.
        let other: Lease = try controller.admin.post("/v1/leases", LeaseRequest(spec: spec, requester: "test"))
        let end = controller.cli(["end", other.id])
        #expect(end.status == 0 && end.stdout.contains("ended"), "\(end.stderr)")
        #expect(controller.cli(["end", other.id]).stderr.contains("no lease"))
        #expect(controller.cli(["end", "lease-99"], token: TestController.metricsToken).status == 1)

        // Everything above is in the audit log, refusals included; metrics tokens may not read it.
        let audit = try controller.admin.get("/v1/audit", as: [AuditEntry].self)
        let seen = Set(audit.map { "\($0.action) \($0.target) \($0.caller) \($0.outcome)" })
        for expected in ["cordon node-a metrics refused", "cordon node-a admin done", "uncordon node-a admin done",
                         "cordon node-a/0 admin done", "cordon node-a/7 admin refused", "drain node-a/\(held.vgpus[0].gpu) admin done",
                         "end-lease \(other.id) admin done", "end-lease lease-99 metrics refused"] {
            #expect(seen.contains(expected), "\(expected) missing from \(seen)")
        }
        #expect(try fetch(controller.url + "/v1/audit", token: TestController.metricsToken).0 == 401)
        // The cordon survives a restart of the controller.
        #expect(controller.cli(["cordon", "node-b"]).status == 0)
        controller.kill9()
        try controller.start()
        #expect(try controller.admin.get("/v1/nodes", as: [NodeInfo].self).first { $0.name == "node-b" }?.cordoned == true)

        // `tessera top` reads one snapshot: pool-wide session identifiers, header counts from the same read.
        let top = controller.cli(["top", "--count", "1", "--output", "json"])
        let snapshot = try JSONDecoder().decode(PoolSnapshot.self, from: Data(top.stdout.utf8))
        #expect(snapshot.summary.leases == snapshot.leases.count)
        #expect(snapshot.nodes.map(\.name) == ["node-a", "node-b"])
    }

    @Test func dashboardInARealBrowser() throws {
        let chromium = Command.run("/bin/bash", [Self.script("setup-browser.sh")], timeout: 900)
        try #require(chromium.status == 0, "installing Chromium failed: \(chromium.stderr)")
        let controller = try TestController(extraArguments: ["--history-interval", "1"])
        let node = try PoolNode("node-a", controller: controller)
        let screenshots = Products.packageRoot.appendingPathComponent(".build/dashboard-screenshots")
        let program = [Products.tessera.path, "run", "--endpoint", node.socketPath, "--memory", "256MiB", "--compute", "25", "--",
                       Products.sample("hold"), "64"]
        let programJSON = String(decoding: try JSONEncoder().encode(program), as: UTF8.self)
        let r = Command.run(Self.python, [
            Self.script("dashboard-browser-test.py"), "--url", controller.url, "--admin-token", TestController.adminToken,
            "--metrics-token", TestController.metricsToken, "--node", "node-a", "--program-json", programJSON,
            "--ca-file", try #require(controller.caFile),
            "--screenshots", screenshots.path, "--chromium", chromium.stdout.split(separator: "\n").last.map(String.init) ?? "/usr/bin/chromium",
        ], timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        for name in ["1-signed-in", "2-vgpu-view", "3-refused", "4-cordoned"] {
            #expect(FileManager.default.fileExists(atPath: screenshots.appendingPathComponent("\(name).png").path), "\(name).png")
        }
        print("dashboard figures: \(r.stdout)")
    }
}
