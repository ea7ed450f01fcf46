import Foundation
import Testing
import TesseraWire

/// Compute shares through the real-GPU backend, stacked on a simulated GPU (see ``StackedGPUTests``): node A's
/// per-GPU scheduler decides when each worker submits, and charges the device time the worker measured with CUDA
/// events (here node B's simulated events). Measured as ``ComputeIsolationTests`` measures the simulated path:
/// the device time node A reports per vGPU over a window in which all programs ran.
@Suite(.serialized) struct StackedComputeShareTests {
    @Test func threeProgramsGetTheirSharesThroughTheCUDABackend() throws {
        let stack = try StackedGPUTests.Stack()
        let percents = [10, 30, 60]
        // Kernels long enough that the device, not the stacked path's per-launch cost, limits the programs.
        let programs = percents.map { stack.a.start("busy", ["14", "3000"], memory: "16MiB", compute: $0) }
        for p in programs { #expect(p.waitForOutput("READY", timeout: 120), "\(p.stderr)") }
        usleep(500_000)
        let used = try ComputeIsolationTests.deviceTime(stack.a, pids: programs.map(\.pid), over: 10)
        let total = used.reduce(0, +)
        #expect(total > 0, "no device time charged: \(used)")
        let shares = used.map { $0 / max(total, 1) }
        for (share, percent) in zip(shares, percents) {
            #expect(abs(share - Double(percent) / 100) <= 0.02, "shares \(shares)")
        }
        for p in programs { #expect(p.finish(timeout: 60).status == 0, "\(p.stderr)") }
    }
}
