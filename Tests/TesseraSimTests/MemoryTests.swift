import Dispatch
import Testing
@testable import TesseraSim

@Suite struct MemoryTests {
    @Test func allocationsAreAlignedAndZeroed() throws {
        let gpu = SimulatedGPU(properties: DeviceProperties(totalMemory: 1 << 20))
        let ctx = gpu.makeContext()
        let a = try ctx.allocate(1000)
        let b = try ctx.allocate(24)
        #expect(a % 256 == 0 && b % 256 == 0)
        #expect(b >= a + 1000)
        var out = [UInt8](repeating: 0xFF, count: 1000)
        try out.withUnsafeMutableBytes { try ctx.copyFromDevice(a, to: $0.baseAddress!, count: 1000) }
        try ctx.synchronize()
        #expect(out.allSatisfy { $0 == 0 })
        #expect(ctx.memoryUsed == 1024)
    }

    @Test func quotaIsExact() throws {
        let gpu = SimulatedGPU(properties: DeviceProperties(totalMemory: 1 << 20))
        let ctx = gpu.makeContext(memoryLimit: 4096)
        _ = try ctx.allocate(4000)
        #expect(throws: SimError.self) { try ctx.allocate(97) }
        _ = try ctx.allocate(96)
        #expect(ctx.memoryInfo.free == 0 && ctx.memoryInfo.total == 4096)
    }

    @Test func contextsCannotTouchEachOthersMemory() throws {
        let gpu = SimulatedGPU()
        let a = gpu.makeContext(), b = gpu.makeContext()
        let p = try a.allocate(64)
        #expect(throws: SimError.self) { try b.memset(p, value: 1, count: 64) }
        #expect(throws: SimError.self) { try a.memset(p + 60, value: 1, count: 8) }
        try a.memset(p, value: 7, count: 64)
        try a.synchronize()
    }

    @Test func destroyReleasesEverything() throws {
        let gpu = SimulatedGPU(properties: DeviceProperties(totalMemory: 1 << 20))
        let ctx = gpu.makeContext()
        _ = try ctx.allocate(5000)
        #expect(gpu.memoryUsed == 5000)
        ctx.destroy()
        #expect(gpu.memoryUsed == 0)
    }

    /// A session aborted by a hang-up destroys its context while its own thread may be inside an allocation: the
    /// allocation must not land in the destroyed context, where nothing would ever free it. Threads allocate and
    /// map memory while another destroys the context; afterwards the device holds nothing.
    @Test func allocationsRacingDestroyLeaveNothingBehind() {
        let gpu = SimulatedGPU(properties: DeviceProperties(totalMemory: 1 << 30))
        for _ in 0..<100 {
            let ctx = gpu.makeContext()
            let group = DispatchGroup()
            for worker in 0..<3 {
                DispatchQueue.global().async(group: group) {
                    for _ in 0..<50 {
                        do throws(SimError) {
                            if worker == 2 {
                                _ = try ctx.createPhysical(SimulatedGPU.allocationGranularity)
                            } else {
                                _ = try ctx.allocate(4096)
                            }
                        } catch {
                            return  // destroyed: every later call fails too
                        }
                    }
                }
            }
            ctx.destroy()
            group.wait()
            #expect(gpu.memoryUsed == 0)
            if gpu.memoryUsed != 0 { return }
        }
    }
}
