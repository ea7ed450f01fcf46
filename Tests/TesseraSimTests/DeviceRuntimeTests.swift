import Testing
@testable import TesseraSim

/// Clocks in step with the work done, device printf and assert, and cooperative launches with grid sync.
@Suite struct DeviceRuntimeTests {
    @Test func clocksAdvanceWithTheWorkDoneAndStayMonotonic() throws {
        let harness = SimHarness()
        let kernel = try harness.load("device_runtime.cu", .ptx(arch: 80)).kernel(named: "clocks")
        let threads = 128, blocks = 4, spin = 1000
        let out = try harness.zeros(Int64.self, count: threads * blocks * 6)
        var previousLaunchEnd: Int64 = 0
        for _ in 0..<2 {
            try harness.run(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)), arg(out), arg(Int32(spin)))
            let got = try harness.download(out, count: threads * blocks * 6, as: Int64.self)
            let ghz = Double(harness.gpu.properties.clockRateKHz) / 1e6
            var launchEnd: Int64 = 0
            for b in 0..<blocks {
                let rows = (0..<threads).map { Array(got[((b * threads + $0) * 6)..<((b * threads + $0) * 6 + 6)]) }
                let slowestBeforeBarrier = rows.map { $0[1] }.max()!
                for (t, r) in rows.enumerated() {
                    // The loop is at least 3 instructions an iteration, each at least one issue cycle.
                    let iterations = Int64(spin * (t / 32 + 1))
                    #expect(r[1] - r[0] >= 3 * iterations, "block \(b) thread \(t): \(r[1] - r[0]) cycles for \(iterations) iterations")
                    // A barrier releases when the slowest warp arrives.
                    #expect(r[2] >= slowestBeforeBarrier)
                    #expect(r[0] >= previousLaunchEnd, "clock went backwards across launches")
                    // %globaltimer advances in step: nanoseconds = cycles / clock rate.
                    let expectedNs = Double(r[1] - r[0]) / ghz
                    #expect(Swift.abs(Double(r[4] - r[3]) - expectedNs) <= expectedNs * 0.01 + 2)
                    launchEnd = max(launchEnd, r[2])
                }
            }
            previousLaunchEnd = launchEnd
        }
    }

    @Test func spinWaitOnTheClockFinishesAfterTheRequestedCycles() throws {
        let harness = SimHarness()
        let kernel = try harness.load("device_runtime.cu", .ptx(arch: 80)).kernel(named: "clock_block")
        let out = try harness.zeros(Int64.self, count: 1)
        let cycles = Int64(harness.gpu.properties.clockRateKHz)  // one millisecond of device time
        try harness.run(kernel, grid: Dim3(1), block: Dim3(1), arg(out), arg(cycles))
        let elapsed = try harness.download(out, count: 1, as: Int64.self)[0]
        #expect(elapsed >= cycles && elapsed < cycles + 1000)
    }

    @Test func printfIsFormattedOnTheHostAndBoundedByTheFifoSize() throws {
        let harness = SimHarness()
        let kernel = try harness.load("device_runtime.cu", .ptx(arch: 80)).kernel(named: "say")
        try harness.run(kernel, grid: Dim3(2), block: Dim3(3), arg(Int32(7)), arg(Float(2.5)))
        let text = String(decoding: harness.context.takePrintfOutput(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        var expected: [String] = []
        for b in 0..<2 {
            for t in 0..<3 {
                expected.append("block \(b) thread \(t): n=7 f=2.50 s=str c=q ll=\(Int64(7) << 33) x=0xff e= 1.23e+03 %")
            }
        }
        #expect(lines.sorted() == expected)
        // Within a block, threads print in lane order.
        for b in 0..<2 {
            let mine = lines.filter { $0.hasPrefix("block \(b) ") }
            #expect(mine == expected.filter { $0.hasPrefix("block \(b) ") })
        }
        #expect(harness.context.takePrintfOutput().isEmpty, "taken output is gone")

        // A FIFO too small for all records keeps the ones that fit and drops the rest.
        harness.context.printfFifoSize = 2 * (expected[0].utf8.count + 1) + 10
        try harness.run(kernel, grid: Dim3(2), block: Dim3(3), arg(Int32(7)), arg(Float(2.5)))
        let bounded = harness.context.takePrintfOutput()
        #expect(bounded.count == 2 * (expected[0].utf8.count + 1))
    }

    @Test func failedAssertPrintsCudasMessageAndPoisonsTheContext() throws {
        let harness = SimHarness()
        let module = try harness.load("device_runtime.cu", .ptx(arch: 80))
        let kernel = try module.kernel(named: "check")
        let values = try harness.upload([Int32(1), 0, 5, -2])
        expectSimError(.assertFailed) { try harness.run(kernel, grid: Dim3(1), block: Dim3(4), arg(values)) }
        let messages = String(decoding: harness.context.takeAssertOutput(), as: UTF8.self).split(separator: "\n")
        #expect(messages.count == 2)
        for (m, thread) in zip(messages, [1, 3]) {
            #expect(m.hasSuffix("block: [0,0,0], thread: [\(thread),0,0] Assertion `v[threadIdx.x] > 0` failed."), "\(m)")
            #expect(m.contains("device_runtime.cu:"))
        }
        // Sticky, like cudaErrorAssert: later work fails too.
        #expect(harness.context.stickyError?.code == .assertFailed)
        #expect(throws: SimError.self) { try harness.context.synchronize() }
    }

    @Test func cooperativeLaunchCompletesGridWideSync() throws {
        let harness = SimHarness()
        let kernel = try harness.load("device_runtime.cu", .ptx(arch: 80)).kernel(named: "grid_total")
        let blocks = 12, threads = 64, n = 5000
        let input = (0..<n).map { Int32($0 % 17) }
        let din = try harness.upload(input)
        let partial = try harness.zeros(Int32.self, count: blocks)
        let out = try harness.zeros(Int32.self, count: 1 + blocks * threads)
        let parameters = SimHarness.pack([arg(din), arg(partial), arg(out), arg(Int32(n))], for: kernel)
        for _ in 0..<2 {  // the workspace's barrier is reused across launches
            try harness.context.launch(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)), parameters: parameters, cooperative: true)
            let got = try harness.download(out, count: 1 + blocks * threads, as: Int32.self)
            let total = input.reduce(0, +)
            #expect(got == [Int32](repeating: total, count: 1 + blocks * threads))
        }

        // The grid may not exceed what the device keeps resident.
        let perSM = harness.context.maxActiveBlocksPerMultiprocessor(kernel, blockSize: threads)
        #expect(perSM >= 1)
        let tooMany = perSM * harness.gpu.properties.multiprocessorCount + 1
        expectSimError(.cooperativeLaunchTooLarge) {
            try harness.context.launch(kernel, grid: Dim3(UInt32(tooMany)), block: Dim3(UInt32(threads)), parameters: parameters, cooperative: true)
        }
    }

    @Test func gridSyncOutsideACooperativeLaunchFaultsInsteadOfHanging() throws {
        let harness = SimHarness()
        let kernel = try harness.load("device_runtime.cu", .ptx(arch: 80)).kernel(named: "grid_total")
        let din = try harness.upload([Int32](repeating: 1, count: 64))
        let partial = try harness.zeros(Int32.self, count: 2)
        let out = try harness.zeros(Int32.self, count: 129)
        #expect(throws: SimError.self) {
            try harness.run(kernel, grid: Dim3(2), block: Dim3(64), arg(din), arg(partial), arg(out), arg(Int32(64)))
        }
    }
}

/// Records an issue unless `body` throws a ``SimError`` with `code`.
func expectSimError(_ code: SimError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(code) error", sourceLocation: sourceLocation)
    } catch let e as SimError {
        #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}
