import Foundation
import Testing
import TesseraWire

/// The real-GPU backend without a GPU: node A serves `--gpus all` through the CUDA driver API, loading Tessera's
/// own libcuda.so.1, which in turn is served by node B's simulated GPUs. Each of A's workers attaches to B with its
/// session's sizes, so everything a program does through A crosses A's worker and B's simulator.
@Suite struct StackedGPUTests {
    /// Node B (simulated) and node A (CUDA backend over Tessera's driver, pointed at B).
    final class Stack: @unchecked Sendable {
        let b: TestNode
        let a: TestNode
        init(gpuMemory: String = "1GiB", probeMemory: String = "512MiB") throws {
            b = try TestNode(gpus: 1, memory: gpuMemory)
            let driver = Products.buildDirectory.appendingPathComponent("libTesseraCuda.so").path
            // What A's start-up probe asks of B (and so the size of A's GPU): half of B's GPU and 1 % of its time,
            // so that B still has room while it notices the probe is gone; each worker then asks for its
            // session's grant.
            a = try TestNode(backend: ["--gpus", "all", "--cuda-driver", driver], environment: [
                "TESSERA_ENDPOINT": b.socketPath, "TESSERA_MEMORY": probeMemory, "TESSERA_COMPUTE": "1",
            ])
        }
    }

    @Test func samplesPassThroughTheCUDABackend() throws {
        let stack = try Stack()
        let memops = stack.a.run("memops")
        #expect(memops.status == 0, "\(memops.stdout)\n\(memops.stderr)\nA:\n\(stack.a.log)")
        #expect(memops.stdout.contains("memops OK"))
        // The vGPU's memory, not the GPU's, as the program's cudaMemGetInfo/total memory.
        #expect(memops.stdout.contains("total=67108864"), "\(memops.stdout)")
        let vadd = stack.a.run("vadd", ["5000", "4"])
        #expect(vadd.status == 0, "\(vadd.stdout)\n\(vadd.stderr)")
        #expect(vadd.stdout.contains("vadd OK n=5000"))
        for sample in ["streams", "symbols"] {
            let r = stack.a.run(sample)
            #expect(r.status == 0 && r.stdout.contains("\(sample) OK"), "\(sample): \(r.stdout)\n\(r.stderr)")
        }
        // nvcc's default builds: NVIDIA's static runtime over Tessera's libcuda.so.1, served by A.
        for (sample, args) in [("memops", [String]()), ("vadd", ["3000", "2"])] {
            let r = stack.a.run("static/\(sample)", args)
            #expect(r.status == 0 && r.stdout.contains("\(sample) OK"), "static \(sample): \(r.stdout)\n\(r.stderr)")
        }
        // A's work really ran on B: its workers were B's sessions.
        #expect(stack.b.log.contains("session started"))
        #expect(stack.a.log.contains("CUDA GPU"))
    }

    /// On a real GPU the driver prints kernels' `printf` output in the worker's process: the node forwards the
    /// worker's stdout to the program at the same synchronisation points, in order with the host's own lines.
    @Test(arguments: DeviceOutputTests.modes)
    func devicePrintfReachesTheProgramThroughTheCUDABackend(program: String) throws {
        let stack = try Stack()
        let r = stack.a.run(program, ["printf"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout == DeviceOutputTests.printfOrder, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
    }

    /// Mapped (zero-copy) host memory through the CUDA backend: A's worker maps the program's shared memory at the
    /// program's address and registers it with its driver for device access; that driver (Tessera's) finds the
    /// memfd behind the range and shares it with B, whose kernels write the program's pages. Each round frees its
    /// buffer before the next allocates one (which may reuse the address): the worker and B must have let go of it.
    @Test(arguments: DeviceOutputTests.modes)
    func mappedHostMemoryIsZeroCopyThroughTheCUDABackend(program: String) throws {
        let stack = try Stack()
        let r = stack.a.run(program, ["zerocopy", "3"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\nA:\n\(stack.a.log)")
        #expect(r.stdout.contains("zerocopy OK same=1 rounds=3"), "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stderr.lowercased().contains("not supported"), "\(r.stderr)")
        // A launch the program follows with no CUDA call reaches B and writes the mapped pages.
        let unfollowed = stack.a.run(program, ["unfollowed"])
        #expect(unfollowed.status == 0 && unfollowed.stdout.contains("unfollowed launch ran"), "\(unfollowed.stdout)\n\(unfollowed.stderr)")
        // Once the programs are gone, so are their workers and B's sessions that held the memory.
        let (a, aSettled) = try stack.a.waitForStatus(timeout: 20) { $0.sessions.isEmpty }
        #expect(aSettled, "\(a)")
        let (b, bSettled) = try stack.b.waitForStatus(timeout: 20) { $0.sessions.isEmpty }
        #expect(bSettled, "\(b)")
    }

    /// Pinned copies through the CUDA backend: the node shares each pinned buffer's memfd with the session's
    /// worker, which copies between the device and its own mapping of it (registered with its driver, which,
    /// being Tessera's, shares it with B in turn), the bytes never crossing the node ↔ worker link. Several sizes
    /// (one past the 16 MiB inline chunk) both ways at odd offsets, synchronously, through pageable memory too (the
    /// staging area, itself a shared region), and on a stream around a kernel.
    @Test(arguments: DeviceOutputTests.modes)
    func pinnedCopiesGoThroughSharedMemoryThroughTheCUDABackend(program: String) throws {
        let stack = try Stack()
        let r = stack.a.run(program, ["pinned"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\nA:\n\(stack.a.log)")
        #expect(r.stdout.contains("pinned OK sizes=4"), "\(r.stdout)\n\(r.stderr)")
        // Freed pinned buffers let go of the worker's mappings: the program ends cleanly, and so do the sessions.
        let (a, aSettled) = try stack.a.waitForStatus(timeout: 20) { $0.sessions.isEmpty }
        #expect(aSettled, "\(a)")
        let (b, bSettled) = try stack.b.waitForStatus(timeout: 20) { $0.sessions.isEmpty }
        #expect(bSettled, "\(b)")
    }

    @Test func quotaIsExactThroughTheCUDABackend() throws {
        let stack = try Stack()
        let r = stack.a.run("quota", ["48"], memory: "48MiB")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("quota OK \(48 << 20)"))
    }

    @Test(arguments: ["kernel", "copy", "memset", "free"])
    func faultLeavesTheNeighbourUnharmed(mode: String) throws {
        let stack = try Stack()
        let neighbour = stack.a.start("hold", ["16"])
        #expect(neighbour.waitForOutput("READY", timeout: 120))
        let r = stack.a.run("fault", [mode])
        #expect(r.status == 0, "\(mode): \(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("fault OK \(mode)"))
        #expect(stack.a.isRunning)
        let (status, settled) = try stack.a.waitForStatus(timeout: 20) { $0.sessions.count == 1 }
        #expect(settled, "\(status)")
        #expect(status.sessions.first?.virtualGPUs.first?.usedMemory == 16 << 20)
        // The neighbour's worker still answers: a new program on the same GPU works too.
        let after = stack.a.run("vadd", ["1000", "1"])
        #expect(after.status == 0 && after.stdout.contains("vadd OK"), "\(after.stdout)\n\(after.stderr)")
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
    }

    @Test func workerDeathEndsOnlyItsSession() throws {
        let stack = try Stack()
        let victim = stack.a.start("hold", ["8"])
        let neighbour = stack.a.start("hold", ["8"])
        #expect(victim.waitForOutput("READY", timeout: 120) && neighbour.waitForOutput("READY", timeout: 120))
        // Kill the victim's worker (a `tessera worker` child of node A) as a crashing driver would.
        let workers = Command.run("/usr/bin/pgrep", ["-P", "\(stack.a.process.pid)", "-f", "worker"]).stdout
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(workers.count == 2, "workers: \(workers)")
        if let first = workers.first { kill(first, SIGKILL) }
        #expect(stack.a.isRunning)
        let r = stack.a.run("vadd", ["1000", "1"])
        #expect(r.status == 0 && r.stdout.contains("vadd OK"), "\(r.stdout)\n\(r.stderr)")
        kill(victim.pid, SIGKILL)
        kill(neighbour.pid, SIGKILL)
        _ = victim.finish()
        _ = neighbour.finish()
    }

    /// Without a driver the binary still starts; `--gpus` fails with one clear line.
    @Test func gpusWithoutADriverFailsWithOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-nodriver-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = Command.run(Products.tessera.path, [
            "node", "--socket", dir.appendingPathComponent("n.sock").path, "--gpus", "all",
            "--cuda-driver", dir.appendingPathComponent("libcuda.so.1").path,
        ], timeout: 60)
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("Error") }
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("no CUDA driver"), "\(r.stderr)")
        let help = Command.run(Products.tessera.path, ["node", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--gpus"))
    }

    /// A node serves real or simulated GPUs, not both: `--gpus` with a simulated-GPU option is refused in one line.
    @Test func gpusTogetherWithSimulatedGPUsIsRefused() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-both-\(UUID().uuidString.prefix(8)).sock").path
        for extra in [["--sim-gpus", "2"], ["--sim-gpu-memory", "4GiB"]] {
            let r = Command.run(Products.tessera.path, ["node", "--socket", socket, "--gpus", "all"] + extra, timeout: 60)
            #expect(r.status != 0)
            let lines = r.stderr.split(separator: "\n").filter { $0.contains("Error") }
            #expect(lines.count == 1 && lines.first?.contains(extra[0]) == true, "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: socket), "the node must not start")
        }
    }
}
