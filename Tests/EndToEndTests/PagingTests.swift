import Foundation
import Testing
import TesseraWire

/// Idle sessions' device memory is paged out when a request does not fit, and comes back intact at the same
/// addresses at the session's next call (`tessera node --page-idle-after`). Real node, real nvcc-built programs.
@Suite(.serialized) struct PagingTests {
    /// A node with one simulated 1 GiB GPU that pages sessions idle for `idleAfter` seconds.
    private func pagingNode(idleAfter: Double = 1, extra: [String] = []) throws -> TestNode {
        try TestNode(backend: ["--sim-gpus", "1", "--sim-gpu-memory", "1GiB", "--page-idle-after", "\(idleAfter)"] + extra)
    }

    /// The address a `paged` program printed after READY or INTACT.
    private func address(_ output: String, after word: String) -> String? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(word + " ") }) else { return nil }
        return String(line.dropFirst(word.count + 1))
    }

    private func session(_ status: NodeStatusReply, pid: Int32) -> SessionStatus? {
        status.sessions.first { $0.pid == Int(pid) }
    }

    @Test func idleProgramIsPagedOutSoASecondRunsAndFindsItsBytesAtTheSameAddresses() throws {
        let node = try pagingNode()
        #expect(try node.status().pageIdleAfterMilliseconds == 1000)
        let first = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(first.waitForOutput("READY"), "\(first.stderr)")
        let before = try #require(address(first.stdout, after: "READY"))
        usleep(1_300_000)  // idle longer than --page-idle-after

        // 700 + 700 MiB do not fit in 1 GiB: the idle program is paged out and the second one runs.
        let second = node.run("paged", ["700"], memory: "700MiB", timeout: 300)
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)\n\(node.log)")
        #expect(second.stdout.contains("INTACT"))
        let (paged, settled) = try node.waitForStatus(timeout: 2) { $0.sessions.count == 1 }
        #expect(settled)
        let firstSession = try #require(session(paged, pid: first.pid))
        #expect(firstSession.paging?.state == .paged)
        #expect(firstSession.paging?.pageOuts == 1)
        #expect(firstSession.paging?.pagedBytes == 700 << 20)
        #expect(firstSession.virtualGPUs[0].usedMemory == 700 << 20)  // the quota keeps counting it
        #expect(paged.pagedBytesHeld == 700 << 20)
        #expect(paged.gpus[0].usedMemory == 0)  // the second program ended; the first holds no device memory

        // Its next CUDA call pages it back in: every byte intact, at the same address.
        kill(first.pid, SIGUSR1)
        let r = first.finish(timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(address(r.stdout, after: "INTACT") == before, "\(r.stdout)")
        #expect(node.log.contains("paged in"))
        let (after, empty) = try node.waitForStatus(timeout: 2) { $0.sessions.isEmpty }
        #expect(empty)
        #expect(after.pagedBytesHeld == 0 && after.gpus[0].usedMemory == 0)
    }

    @Test func withoutPagingTheSecondProgramIsRefused() throws {
        let node = try TestNode(gpus: 1, memory: "1GiB")
        #expect(try node.status().pageIdleAfterMilliseconds == nil)
        let first = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(first.waitForOutput("READY"), "\(first.stderr)")
        usleep(1_300_000)
        let second = node.run("paged", ["700"], memory: "700MiB", timeout: 120)
        #expect(second.status != 0)
        kill(first.pid, SIGUSR1)
        let r = first.finish(timeout: 300)
        #expect(r.stdout.contains("INTACT"), "\(r.stdout)\n\(r.stderr)")
    }

    @Test func pagingUnderConcurrentRequests() throws {
        let node = try pagingNode()
        // Three idle holders fill 900 MiB of the 1 GiB GPU.
        let holders = (0..<3).map { _ in node.start("paged", ["300", "wait"], memory: "300MiB") }
        var addresses: [String] = []
        for h in holders {
            #expect(h.waitForOutput("READY"), "\(h.stderr)")
            addresses.append(address(h.stdout, after: "READY") ?? "?")
        }
        usleep(1_300_000)
        // Two programs of 400 MiB arrive at once: holders are paged out to admit them and to fit their allocations.
        let arrivals = (0..<2).map { _ in node.start("paged", ["400"], memory: "400MiB") }
        for (i, a) in arrivals.enumerated() {
            let r = a.finish(timeout: 300)
            #expect(r.status == 0 && r.stdout.contains("INTACT"), "arrival \(i): \(r.stdout)\n\(r.stderr)\n\(node.log)")
        }
        let status = try node.status()
        let pagedOut = holders.compactMap { session(status, pid: $0.pid) }.filter { $0.paging?.state == .paged }
        #expect(pagedOut.count >= 2, "\(status.sessions.map { "\($0.pid): \($0.paging?.state.description ?? "-")" })")
        // All three come back at once, competing for the room: each finds its bytes at its address.
        for h in holders { kill(h.pid, SIGUSR1) }
        for (i, h) in holders.enumerated() {
            let r = h.finish(timeout: 300)
            #expect(r.status == 0, "holder \(i): \(r.stdout)\n\(r.stderr)")
            #expect(address(r.stdout, after: "INTACT") == addresses[i], "holder \(i): \(r.stdout)")
        }
        let (after, empty) = try node.waitForStatus(timeout: 2) { $0.sessions.isEmpty }
        #expect(empty && after.pagedBytesHeld == 0 && after.gpus[0].usedMemory == 0, "\(after)")
    }

    @Test(arguments: ["exits", "killed"])
    func programThatEndsWhilePaged(how: String) throws {
        let node = try pagingNode()
        let first = node.start("paged", ["600", "wait"], memory: "600MiB")
        #expect(first.waitForOutput("READY"), "\(first.stderr)")
        usleep(1_300_000)
        let second = node.start("paged", ["600", "wait"], memory: "600MiB")
        #expect(second.waitForOutput("READY", timeout: 300), "\(second.stderr)\n\(node.log)")
        #expect(session(try node.status(), pid: first.pid)?.paging?.state == .paged)
        #expect(try node.status().pagedBytesHeld == 600 << 20)

        if how == "exits" {
            kill(first.pid, SIGUSR2)
            let r = first.finish(timeout: 60)
            #expect(r.status == 0 && r.stdout.contains("EXITING"), "\(r.stdout)\n\(r.stderr)")
        } else {
            kill(first.pid, SIGKILL)
            _ = first.finish(timeout: 60)
        }
        // Its session and its paged copy are gone; the other program's memory is untouched.
        let (status, gone) = try node.waitForStatus(timeout: 2) { $0.sessions.count == 1 && $0.pagedBytesHeld == 0 }
        #expect(gone, "\(status)")
        #expect(status.gpus[0].usedMemory == 600 << 20)
        kill(second.pid, SIGUSR1)
        let r = second.finish(timeout: 300)
        #expect(r.status == 0 && r.stdout.contains("INTACT"), "\(r.stdout)\n\(r.stderr)")
        #expect(node.isRunning)
    }

    @Test func pageInWaitsUntilThereIsRoom() throws {
        // Sessions idle 3 s may be paged: the second program stays resident while the first asks back in.
        let node = try pagingNode(idleAfter: 3)
        let first = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(first.waitForOutput("READY"), "\(first.stderr)")
        let before = try #require(address(first.stdout, after: "READY"))
        usleep(3_300_000)
        let second = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(second.waitForOutput("READY", timeout: 300), "\(second.stderr)\n\(node.log)")

        // The first program's next call needs 700 MiB; the second is not idle long enough to be paged: it waits.
        kill(first.pid, SIGUSR1)
        let (waiting, sawWait) = try node.waitForStatus(timeout: 2.5) { session($0, pid: first.pid)?.paging?.state == .waitingForRoom }
        #expect(sawWait, "\(waiting.sessions.map { "\($0.pid): \($0.paging?.state.description ?? "-")" })\n\(node.log)")
        #expect(!first.stdout.contains("INTACT"))

        // Room is made when the second program ends; the waiting call then completes.
        kill(second.pid, SIGUSR1)
        let s = second.finish(timeout: 300)
        #expect(s.status == 0 && s.stdout.contains("INTACT"), "\(s.stdout)\n\(s.stderr)")
        let r = first.finish(timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(address(r.stdout, after: "INTACT") == before)
        #expect(node.log.contains("page-in waits for room"))
    }

    @Test func pagesToAFileWithinItsCap() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-pages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let node = try pagingNode(extra: ["--page-directory", directory.path, "--page-file-limit", "1GiB"])
        let first = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(first.waitForOutput("READY"), "\(first.stderr)")
        usleep(1_300_000)
        let second = node.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(second.waitForOutput("READY", timeout: 300), "\(second.stderr)\n\(node.log)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let bytes = try files.reduce(0) { total, name in
            total + ((try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size] as? Int) ?? 0)
        }
        #expect(bytes == 700 << 20, "\(files)")
        kill(second.pid, SIGUSR1)
        _ = second.finish(timeout: 300)
        kill(first.pid, SIGUSR1)
        let r = first.finish(timeout: 300)
        #expect(r.status == 0 && r.stdout.contains("INTACT"), "\(r.stdout)\n\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
