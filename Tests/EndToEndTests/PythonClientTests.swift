import Foundation
import Testing

/// CuPy and numba-cuda from PyPI, unchanged, through `tessera run` on a simulated vGPU: `tessera run` learns
/// from the node that its GPUs are simulated and makes both hand the device PTX (CuPy through NVRTC, numba-cuda
/// through the driver's linker). Each script checks its results against NumPy and that the device's total
/// memory is the vGPU's.
@Suite(.serialized) struct PythonClientTests {
    /// The virtual environment with the clients, installed by scripts/setup-python.sh on first use.
    static let python: String = {
        let script = Products.packageRoot.appendingPathComponent("scripts/setup-python.sh").path
        let result = Command.run("/bin/bash", [script], timeout: 1200)
        precondition(result.status == 0, "installing CuPy and numba-cuda failed:\n\(result.stderr)")
        return result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }()

    static func script(_ name: String) -> String {
        Products.packageRoot.appendingPathComponent("samples/python/\(name)").path
    }

    func runPython(_ node: TestNode, _ script: String, memory: Int) -> CommandResult {
        Command.run(Products.tessera.path,
                    ["run", "--endpoint", node.socketPath, "--memory", "\(memory >> 20)MiB", "--compute", "50", "--",
                     Self.python, Self.script(script)],
                    environment: ["TESSERA_EXPECT_MEMORY": "\(memory)"], timeout: 900)
    }

    @Test func cupyRunsOnASimulatedVGPU() throws {
        let node = try TestNode(memory: "2GiB")
        let r = runPython(node, "cupy_check.py", memory: 768 << 20)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("cupy: all checks passed"), "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stderr.contains("nvJitLink"), "\(r.stderr)")
        #expect(node.isRunning)
    }

    @Test func numbaRunsOnASimulatedVGPU() throws {
        let node = try TestNode(memory: "2GiB")
        let r = runPython(node, "numba_check.py", memory: 512 << 20)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("numba: all checks passed"), "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stderr.contains("nvJitLink"), "\(r.stderr)")
        #expect(node.isRunning)
    }

    /// The same clients through a node serving `--gpus all` over Tessera's own driver (stacked on a simulated
    /// GPU, see StackedGPUTests): node A reports its GPU simulated (the UUID says so), so `tessera run` hands
    /// the frameworks the same PTX settings, and their modules cross A's worker to B's simulator.
    @Test func cupyAndNumbaRunThroughTheCUDABackend() throws {
        let stack = try StackedGPUTests.Stack(gpuMemory: "4GiB", probeMemory: "2GiB")
        for (script, memory, name) in [("cupy_check.py", 768 << 20, "cupy"), ("numba_check.py", 512 << 20, "numba")] {
            let r = runPython(stack.a, script, memory: memory)
            #expect(r.status == 0, "\(name): \(r.stdout)\n\(r.stderr)\nA:\n\(stack.a.log)")
            #expect(r.stdout.contains("\(name): all checks passed"), "\(r.stdout)\n\(r.stderr)")
        }
        #expect(stack.a.isRunning && stack.b.isRunning)
    }
}
