import Testing
@testable import TesseraSim

/// Faults and unsupported features surface as CUDA reports them, without touching other memory.
@Suite struct KernelFaultTests {
    /// Reads device memory directly, bypassing the (poisoned) context's queues.
    func peek(_ harness: SimHarness, _ address: UInt64, count: Int) throws -> [Int32] {
        let p = try harness.context.checkedPointer(address, count * 4, "peek")
        return Array(UnsafeBufferPointer(start: p.pointer.assumingMemoryBound(to: Int32.self), count: count))
    }

    @Test(arguments: [Int64(64), 1 << 22, -1, -(1 << 40)])
    func outOfBoundsStoreIsAnIllegalAddress(index: Int64) throws {
        let harness = SimHarness()
        let kernel = try harness.load("fault.cu", .fatbin).kernel(named: "store_at")
        let target = try harness.upload([Int32](repeating: 1, count: 64))
        let bystander = try harness.upload((0..<64).map { Int32($0) })
        try harness.launch(kernel, grid: Dim3(1), block: Dim3(32), arg(target), arg(index), arg(Int32(99)))
        #expect { try harness.context.synchronize() } throws: { ($0 as? SimError)?.code == .illegalAddress }
        // Sticky, as in CUDA: the context stays poisoned.
        #expect { try harness.context.synchronize() } throws: { ($0 as? SimError)?.code == .illegalAddress }
        #expect(try peek(harness, bystander, count: 64) == (0..<64).map { Int32($0) })
        #expect(try peek(harness, target, count: 64) == [Int32](repeating: 1, count: 64))
    }

    @Test func unguardedOverrunFaultsAndSparesOtherAllocations() throws {
        let harness = SimHarness()
        let kernel = try harness.load("fault.cu", .ptx(arch: 75)).kernel(named: "unguarded_fill")
        let target = try harness.zeros(Int32.self, count: 100)
        let bystander = try harness.upload((0..<256).map { Int32($0) * 3 })
        try harness.launch(kernel, grid: Dim3(4), block: Dim3(64), arg(target), arg(Int32(5)))
        #expect { try harness.context.synchronize() } throws: { ($0 as? SimError)?.code == .illegalAddress }
        #expect(try peek(harness, bystander, count: 256) == (0..<256).map { Int32($0) * 3 })
        // Another context on the same GPU is unaffected.
        let other = harness.gpu.makeContext()
        let scratch = try other.allocate(16)
        try other.memset(scratch, value: 1, count: 16)
        try other.synchronize()
    }

    @Test func tensorCoreMMAIsReportedByName() throws {
        let harness = SimHarness()
        func mentionsMMA(_ error: any Error) -> Bool {
            guard let error = error as? SimError else { return false }
            return error.message.contains("mma")
        }
        let module: SimModule
        do {
            module = try harness.load("mma.cu", .fatbin)
        } catch {
            #expect(mentionsMMA(error), "\(error)")
            #expect((error as? SimError)?.code == .notSupported, "\(error)")
            return
        }
        // Accepted at load time: it must then fail at launch, naming the instruction.
        let kernel = try module.kernel(named: "mma_m8n8k4")
        let a = try harness.zeros(UInt32.self, count: 64), b = try harness.zeros(UInt32.self, count: 64)
        let d = try harness.zeros(Float.self, count: 256)
        do {
            try harness.run(kernel, grid: Dim3(1), block: Dim3(32), arg(a), arg(b), arg(d))
            Issue.record("mma.sync ran without an error")
        } catch {
            #expect(mentionsMMA(error), "\(error)")
        }
    }

    @Test
    func instructionFailingAtRunTimeIsNeverSilent() throws {
        let harness = SimHarness()
        let n = 64
        let a = (0..<n).map { UInt32($0) &* 0x9E37_79B9 }, b = (0..<n).map { UInt32($0) + 3 }
        let module: SimModule
        do {
            module = try harness.load("mad_cc.cu", .ptx(arch: 75))
        } catch {
            #expect(String(describing: error).contains("mad"), "\(error)")  // refused at load: fine, if named
            return
        }
        let da = try harness.upload(a), db = try harness.upload(b), out = try harness.zeros(UInt32.self, count: 2 * n)
        try harness.launch(module.kernel(named: "mad_lo_cc"), grid: Dim3(2), block: Dim3(32), arg(da), arg(db), arg(out), arg(Int32(n)))
        do {
            try harness.context.synchronize()
        } catch {
            #expect(String(describing: error).contains("mad"), "\(error)")  // reported at synchronize: fine, if named
            return
        }
        let got = try harness.download(out, count: 2 * n, as: UInt32.self)
        #expect(got == (0..<n).flatMap { [a[$0] &* b[$0] &+ a[$0], 0xC0FFEE] }, "finished without an error, so it must have computed")
    }
}
