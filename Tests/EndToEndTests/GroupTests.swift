import Foundation
import Testing
import TesseraPoolAPI
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Courses and fair sharing with a real controller, real nodes and real programs: group quotas, the waiting
/// queue, best-effort compute and usage accounting.
@Suite(.serialized) struct GroupTests {
    /// `tessera run` of a sample on `node` with exactly these options (no compute share unless given).
    static func start(_ node: PoolNode, _ sample: String, _ arguments: [String], memory: String, compute: Int? = nil,
                      wait: Double? = nil) -> RunningCommand {
        var options = ["run", "--endpoint", node.socketPath, "--memory", memory]
        if let compute { options += ["--compute", "\(compute)"] }
        if let wait { options += ["--wait", "\(wait)"] }
        return Command.start(Products.tessera.path, options + ["--", Products.sample(sample)] + arguments)
    }

    /// A groups file naming this test's own user (the uid its programs run as).
    static func applyGroups(_ controller: TestController, _ yaml: String) throws {
        let file = controller.directory.appendingPathComponent("groups.yaml")
        try Data(yaml.utf8).write(to: file)
        let applied = controller.cli(["groups", "apply", "-f", file.path])
        guard applied.status == 0 else { throw TestFailure("groups apply failed: \(applied.stderr)") }
    }

    @Test func quotaIsEnforcedWithTheGroupNamedAndUsageIsReported() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller, memory: "2GiB")
        try Self.applyGroups(controller, """
            groups:
              - name: cs101
                priority: 1
                members: {users: ["\(getuid())"]}
                quota: {memoryMiB: 512, vgpus: 4}
            """)
        let holder = Self.start(node, "hold", ["16"], memory: "384MiB", compute: 20)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        // 384 + 256 MiB is more than the course's 512 MiB: refused, naming the group and the limit.
        let refused = node.run("memops", memory: "256MiB")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("group cs101") && refused.stderr.contains("512 MiB"), "\(refused.stderr)")
        // The GPU itself had room: only the quota refused it.
        #expect(try controller.admin.get("/v1/gpus", as: [GPUInfo].self).first?.grantedMemoryMiB == 384)
        let groups = controller.cli(["groups", "--output", "json"])
        #expect(groups.status == 0, "\(groups.stderr)")
        let infos = try JSONDecoder().decode([GroupInfo].self, from: Data(groups.stdout.utf8))
        #expect(infos.first?.group.name == "cs101" && infos.first?.used == GroupUsage(memoryMiB: 384, computePercent: 20, vgpus: 1))
        let table = controller.cli(["groups"])
        #expect(table.stdout.contains("cs101") && table.stdout.contains("384 MiB / 512 MiB"), "\(table.stdout)")
        // The vGPU series carry the group.
        var metrics = URLRequest(url: URL(string: controller.url + "/metrics")!)
        metrics.setValue("Bearer \(TestController.metricsToken)", forHTTPHeaderField: "Authorization")
        let text = String(decoding: try blockingFetch(metrics).0 ?? Data(), as: UTF8.self)
        #expect(text.contains("group=\"cs101\"") && text.contains("tessera_group_memory_quota_bytes{group=\"cs101\"} 536870912"), "\(text.prefix(400))")
        holder.signalAndWait(SIGKILL)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        // A small program fits now; usage counts both leases of the course's member.
        let ok = node.run("vadd", ["1000", "2"], memory: "64MiB", compute: 5)
        #expect(ok.status == 0, "\(ok.stderr)")
        let usage = controller.cli(["usage", "--since", "1h", "--group", "cs101", "--output", "csv"])
        #expect(usage.status == 0, "\(usage.stderr)")
        let lines = usage.stdout.split(separator: "\n")
        #expect(lines.first == "group,user,memory_gib_hours,compute_hours,leases")
        let row = lines.dropFirst().first?.split(separator: ",").map(String.init) ?? []
        #expect(row.count == 5 && row[0] == "cs101" && row[4] == "2" && (Double(row[2]) ?? 0) > 0, "\(usage.stdout)")
        let json = controller.cli(["usage", "--output", "json"])
        let rows = try JSONDecoder().decode([UsageRow].self, from: Data(json.stdout.utf8))
        #expect(rows.contains { $0.group == "cs101" && $0.computeHours > 0 && $0.leases == 2 }, "\(json.stdout)")
        // Groups and usage survive a restart of the controller.
        controller.kill9()
        try controller.start()
        #expect(try controller.admin.get("/v1/groups", as: [GroupInfo].self).map(\.group.name) == ["cs101"])
        #expect(try controller.admin.get("/v1/usage", as: [UsageRow].self).contains { $0.group == "cs101" && $0.leases == 2 })
        _ = node
    }

    @Test func aQueuedProgramRunsOnceRoomIsMade() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller, memory: "1GiB")
        let holder = Self.start(node, "hold", ["16"], memory: "768MiB", compute: 50)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        // Does not fit now: waits, telling its position, and holds nothing while it waits.
        let waiter = Self.start(node, "vadd", ["1000", "2"], memory: "512MiB", wait: 60)
        let deadline = Date().addingTimeInterval(30)
        while !waiter.stderr.contains("position 1") && Date() < deadline && waiter.process.isRunning { usleep(20_000) }
        #expect(waiter.stderr.contains("waiting for vGPUs: position 1"), "\(waiter.stderr)")
        let queue = controller.cli(["queue", "--output", "json"])
        let entries = try JSONDecoder().decode([QueueEntry].self, from: Data(queue.stdout.utf8))
        #expect(entries.count == 1 && entries.first?.state == .waiting && entries.first?.position == 1, "\(queue.stdout)\(queue.stderr)")
        #expect(try controller.admin.get("/v1/gpus", as: [GPUInfo].self).first?.grantedMemoryMiB == 768)
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).count == 1)
        // Room is made: the waiter is granted and runs to completion.
        holder.signalAndWait(SIGKILL)
        let done = waiter.finish(timeout: 60)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try controller.admin.get("/v1/events", as: [PoolEvent].self).contains { $0.kind == "queue-granted" })
        #expect(try controller.admin.get("/v1/queue", as: [QueueEntry].self).isEmpty)
    }

    @Test func aWaiterThatGivesUpOrDiesLeavesTheQueue() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller, memory: "1GiB")
        let holder = Self.start(node, "hold", ["16"], memory: "900MiB", compute: 10)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        // Gives up after its time: refused, saying it waited.
        let patient = Self.start(node, "vadd", ["1000", "2"], memory: "256MiB", wait: 1).finish(timeout: 60)
        #expect(patient.status != 0 && patient.stderr.contains("waited"), "\(patient.stderr)")
        // Killed while waiting: it leaves the queue, and later room goes to nobody.
        let doomed = Self.start(node, "vadd", ["1000", "2"], memory: "256MiB", wait: 60)
        #expect(controller.wait { try controller.admin.get("/v1/queue", as: [QueueEntry].self).count == 1 })
        doomed.signalAndWait(SIGKILL)
        #expect(controller.wait(timeout: 20) { try controller.admin.get("/v1/queue", as: [QueueEntry].self).isEmpty })
        holder.signalAndWait(SIGKILL)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        usleep(500_000)
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty)
    }

    @Test func sixteenSmallProgramsWithoutAComputeShareShareOneGPU() throws {
        let controller = try TestController()
        let node = try PoolNode("node-a", controller: controller, memory: "2GiB")
        let programs = (0..<16).map { _ in Self.start(node, "hold", ["16"], memory: "64MiB") }
        defer { for p in programs { p.signalAndWait(SIGKILL) } }
        for p in programs { #expect(p.waitForOutput("READY", timeout: 120), "\(p.stderr)") }
        let leases = try controller.admin.get("/v1/leases", as: [Lease].self)
        #expect(leases.count == 16 && leases.allSatisfy { $0.vgpus.first?.computePercent == 0 && $0.spec.computePercent == 0 })
        let gpu = try controller.admin.get("/v1/gpus", as: [GPUInfo].self).first
        #expect(gpu?.grantedMemoryMiB == 1024 && gpu?.grantedComputePercent == 0)
        // A guaranteed share still fits beside them, and stays a guarantee.
        let guaranteed = Self.start(node, "hold", ["16"], memory: "64MiB", compute: 60)
        #expect(guaranteed.waitForOutput("READY"), "\(guaranteed.stderr)")
        #expect(try controller.admin.get("/v1/gpus", as: [GPUInfo].self).first?.grantedComputePercent == 60)
        guaranteed.signalAndWait(SIGKILL)
    }

    @Test func aTeacherTokenCannotTouchAnotherGroup() throws {
        let tokens = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-teachers-\(UUID().uuidString.prefix(8))")
        try Data("cs101:teach-cs101\n".utf8).write(to: tokens)
        defer { try? FileManager.default.removeItem(at: tokens) }
        let controller = try TestController(extraArguments: ["--teacher-token-file", tokens.path])
        try Self.applyGroups(controller, """
            groups:
              - {name: cs101, members: {users: [alice]}, quota: {memoryMiB: 4096}}
              - {name: ma201, members: {users: [bob]}, quota: {memoryMiB: 2048}}
            """)
        let teacher = controller.client(token: "teach-cs101")
        // Sees only its group, from the API and the CLI.
        #expect(try teacher.get("/v1/groups", as: [GroupInfo].self).map(\.group.name) == ["cs101"])
        let listed = controller.cli(["groups", "--output", "json"], token: "teach-cs101")
        #expect(try JSONDecoder().decode([GroupInfo].self, from: Data(listed.stdout.utf8)).map(\.group.name) == ["cs101"], "\(listed.stderr)")
        // Manages its members, within the quota an admin set.
        var own = try teacher.get("/v1/groups/cs101", as: GroupInfo.self).group
        own.members.users.append("carol")
        #expect(try teacher.put("/v1/groups/cs101", own, as: GroupInfo.self).group.members.users == ["alice", "carol"])
        var richer = own
        richer.quota.memoryMiB = 1 << 20
        do throws(PoolError) { _ = try teacher.put("/v1/groups/cs101", richer, as: GroupInfo.self); Issue.record("a teacher raised its quota") } catch {
            #expect(error.code == .unauthorized && error.message.contains("quota"), "\(error.message)")
        }
        // Cannot touch the other group in any way.
        let other = GroupDefinition(name: "ma201", members: GroupMembers(users: ["bob", "mallory"]), quota: GroupQuota(memoryMiB: 1 << 20))
        do throws(PoolError) { _ = try teacher.get("/v1/groups/ma201", as: GroupInfo.self); Issue.record("read another group") } catch {
            #expect(error.code == .unauthorized && error.message.contains("group ma201"), "\(error.message)")
        }
        do throws(PoolError) { _ = try teacher.put("/v1/groups/ma201", other, as: GroupInfo.self); Issue.record("changed another group") } catch {
            #expect(error.code == .unauthorized, "\(error.message)")
        }
        do throws(PoolError) { _ = try teacher.put("/v1/groups", GroupsDocument(groups: [own]), as: [GroupInfo].self); Issue.record("replaced every group") } catch {
            #expect(error.code == .unauthorized, "\(error.message)")
        }
        do throws(PoolError) { try teacher.delete("/v1/groups/ma201"); Issue.record("deleted another group") } catch {
            #expect(error.code == .unauthorized, "\(error.message)")
        }
        do throws(PoolError) { _ = try teacher.get("/v1/usage?group=ma201", as: [UsageRow].self); Issue.record("read another group's usage") } catch {
            #expect(error.code == .unauthorized, "\(error.message)")
        }
        // Nor anything of the pool's administration.
        do throws(PoolError) { _ = try teacher.get("/v1/leases", as: [Lease].self); Issue.record("a teacher read the leases") } catch {
            #expect(error.code == .unauthorized)
        }
        let refused = controller.cli(["cordon", "node-a"], token: "teach-cs101")
        #expect(refused.status != 0)
        // The other group is as the admin left it.
        let groups = try controller.admin.get("/v1/groups", as: [GroupInfo].self)
        #expect(groups.first { $0.group.name == "ma201" }?.group == GroupDefinition(name: "ma201", members: GroupMembers(users: ["bob"]),
                                                                                     quota: GroupQuota(memoryMiB: 2048)))
        #expect(try teacher.get("/v1/usage", as: [UsageRow].self).allSatisfy { $0.group == "cs101" })

        // A teacher token the controller issued (role teacher, group ma201) has the same scope, until revoked.
        let issued = try controller.admin.post("/v1/tokens", TokenRequest(user: "dan", group: "ma201", role: .teacher), as: IssuedToken.self)
        let issuedTeacher = controller.client(token: issued.secret)
        #expect(try issuedTeacher.get("/v1/groups", as: [GroupInfo].self).map(\.group.name) == ["ma201"])
        do throws(PoolError) { _ = try issuedTeacher.get("/v1/groups/cs101", as: GroupInfo.self); Issue.record("read another group") } catch {
            #expect(error.message.contains("ma201") && error.message.contains("cs101"), "\(error.message)")
        }
        try controller.admin.delete("/v1/tokens/\(issued.token.id)")
        do throws(PoolError) { _ = try issuedTeacher.get("/v1/groups", as: [GroupInfo].self); Issue.record("a revoked teacher token still works") } catch {
            #expect(error.code == .unauthorized, "\(error)")
        }
    }
}
