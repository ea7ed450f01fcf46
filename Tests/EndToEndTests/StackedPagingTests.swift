import Foundation
import Testing
import TesseraWire

/// Paging on the real-GPU backend: node A (`--gpus all --page-idle-after`, its workers allocating through
/// virtual memory management) over Tessera's libcuda.so.1, served by node B's simulated GPU. An idle program's
/// memory leaves the GPU (A's worker unmaps and releases it on B, keeping the addresses) so that a second
/// program fits, and the first then finds its bytes intact at the same addresses.
@Suite(.serialized) struct StackedPagingTests {
    /// The address a `paged` program printed after READY or INTACT.
    private func address(_ output: String, after word: String) -> String? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(word + " ") }) else { return nil }
        return String(line.dropFirst(word.count + 1))
    }

    @Test func idleProgramIsPagedOutThroughTheCUDABackend() throws {
        // B: one simulated GPU with room for A's probe and two workers, each of which asks B for the whole of
        // A's GPU (1 GiB): A's own accounting is the limit.
        let b = try TestNode(gpus: 1, memory: "3GiB")
        let driver = Products.buildDirectory.appendingPathComponent("libTesseraCuda.so").path
        let a = try TestNode(backend: ["--gpus", "all", "--cuda-driver", driver, "--page-idle-after", "1"], environment: [
            "TESSERA_ENDPOINT": b.socketPath, "TESSERA_MEMORY": "1GiB", "TESSERA_COMPUTE": "1",
        ])
        #expect(a.log.contains("vmm_granularity") && !a.log.contains("paging is off"), "\(a.log)")
        #expect(try a.status().pageIdleAfterMilliseconds == 1000)

        let first = a.start("paged", ["700", "wait"], memory: "700MiB")
        #expect(first.waitForOutput("READY", timeout: 300), "\(first.stderr)\n\(a.log)")
        let before = try #require(address(first.stdout, after: "READY"))
        usleep(1_300_000)  // idle longer than --page-idle-after

        // 700 + 700 MiB do not fit in A's 1 GiB GPU: the idle program is paged out and the second one runs.
        let second = a.run("paged", ["700"], memory: "700MiB", timeout: 600)
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)\n\(a.log)")
        #expect(second.stdout.contains("INTACT"))
        let (paged, settled) = try a.waitForStatus(timeout: 10) { $0.sessions.count == 1 }
        #expect(settled)
        let session = try #require(paged.sessions.first { $0.pid == Int(first.pid) })
        #expect(session.paging?.state == .paged)
        #expect(session.paging?.pagedBytes == 700 << 20)
        #expect(session.virtualGPUs[0].usedMemory == 700 << 20)  // the quota keeps counting it
        #expect(paged.pagedBytesHeld == 700 << 20)
        #expect(paged.gpus[0].usedMemory == 0)
        // The memory really left the GPU underneath: the first program's worker holds nothing on B.
        let (below, released) = try b.waitForStatus(timeout: 10) { $0.gpus[0].usedMemory == 0 }
        #expect(released, "\(below)")
        #expect(a.log.contains("paged out"))

        // Its next CUDA call pages it back in: every byte intact, at the same address.
        kill(first.pid, SIGUSR1)
        let r = first.finish(timeout: 600)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\n\(a.log)")
        #expect(address(r.stdout, after: "INTACT") == before, "\(r.stdout)")
        #expect(a.log.contains("paged in"))
        let (after, empty) = try a.waitForStatus(timeout: 10) { $0.sessions.isEmpty }
        #expect(empty && after.pagedBytesHeld == 0 && after.gpus[0].usedMemory == 0, "\(after)")
    }
}
