import Foundation
import Testing
import TesseraWire

/// CUDA's virtual memory management through Tessera's libcuda.so.1, executed by the node on a simulated GPU:
/// a driver-API program reserves, creates, maps, sets access, copies and launches, unmaps, releases and frees;
/// the vGPU's quota refuses physical memory past it, exactly; a kernel touching an unmapped address faults.
@Suite struct VirtualMemoryTests {
    @Test func driverAPIVirtualMemoryOnTheSimulatedGPU() throws {
        let node = try TestNode()
        let neighbour = node.start("hold", ["16"])
        #expect(neighbour.waitForOutput("READY"))
        let dir = Products.samples.appendingPathComponent("driver").path
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", node.socketPath, "--memory", "64MiB", "--",
                                                    "\(dir)/vmm", dir])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\n\(node.log)")
        #expect(r.stdout.contains("vmm OK granularity=\(2 << 20) quota=\(64 << 20) fault=700"), "\(r.stdout)")
        // The fault was the program's alone: the neighbour's memory is as it was, and everything the program
        // created went back with its session.
        let (status, settled) = try node.waitForStatus(timeout: 20) { $0.sessions.count == 1 }
        #expect(settled, "\(status)")
        #expect(status.sessions.first?.virtualGPUs.first?.usedMemory == 16 << 20)
        #expect(status.gpus[0].usedMemory == 16 << 20)
        #expect(node.isRunning)
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
    }

    /// The same program through the real-GPU backend (node A's worker calling the driver's cuMem* functions,
    /// stacked on node B's simulated GPU): A counts cuMemCreate's memory against the quota, exactly.
    @Test func driverAPIVirtualMemoryThroughTheCUDABackend() throws {
        let stack = try StackedGPUTests.Stack()
        let dir = Products.samples.appendingPathComponent("driver").path
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", stack.a.socketPath, "--memory", "64MiB", "--",
                                                    "\(dir)/vmm", dir], timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\n\(stack.a.log)")
        #expect(r.stdout.contains("vmm OK granularity=\(2 << 20) quota=\(64 << 20) fault=700"), "\(r.stdout)")
        let (status, settled) = try stack.a.waitForStatus(timeout: 20) { $0.sessions.isEmpty }
        #expect(settled && status.gpus[0].usedMemory == 0, "\(status)")
        #expect(stack.a.isRunning)
    }
}
