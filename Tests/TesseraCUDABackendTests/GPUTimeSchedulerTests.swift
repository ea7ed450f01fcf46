import Synchronization
import Testing
@testable import TesseraCUDABackend
import TesseraWire

/// The real-GPU scheduler's decisions, driven with the usage a worker would report (no GPU, no clock-dependent
/// expectations: idleness is switched off by a long idle window).
@Suite struct GPUTimeSchedulerTests {
    @Test func aSessionAheadOfItsShareWaitsWhileTheOneBehindGoes() {
        let scheduler = GPUTimeScheduler(idleAfterNanoseconds: 3_600_000_000_000)
        let small = scheduler.add(percent: 10, mode: .share)
        let large = scheduler.add(percent: 90, mode: .share)
        #expect(scheduler.admission(small) == nil)
        #expect(scheduler.admission(large) == nil)
        // 10 ms of device time for the 10 % session, none yet for the 90 % one.
        scheduler.update(small, WorkerUsage(busyNanoseconds: 10_000_000, inFlight: 0, meanLaunchNanoseconds: 1_000_000))
        #expect(scheduler.admission(small) != nil)
        #expect(scheduler.admission(large) == nil)
        // Once the large session has used 9× as much, both are level again.
        scheduler.update(large, WorkerUsage(busyNanoseconds: 90_000_000, inFlight: 0, meanLaunchNanoseconds: 1_000_000))
        #expect(scheduler.admission(small) == nil)
        #expect(scheduler.charged(small) == 10_000_000 && scheduler.charged(large) == 90_000_000)
    }

    @Test func aSessionAloneTakesTheWholeGPU() {
        let scheduler = GPUTimeScheduler(idleAfterNanoseconds: 3_600_000_000_000)
        let only = scheduler.add(percent: 5, mode: .share)
        scheduler.update(only, WorkerUsage(busyNanoseconds: 1_000_000_000, inFlight: 0, meanLaunchNanoseconds: 1_000_000))
        #expect(scheduler.admission(only) == nil)
    }

    @Test func onlyAFewMillisecondsStayInFlight() {
        let scheduler = GPUTimeScheduler()
        let s = scheduler.add(percent: 100, mode: .share)
        scheduler.update(s, WorkerUsage(busyNanoseconds: 0, inFlight: 3, meanLaunchNanoseconds: 2_000_000))
        #expect(scheduler.admission(s) != nil)
        scheduler.update(s, WorkerUsage(busyNanoseconds: 4_000_000, inFlight: 1, meanLaunchNanoseconds: 2_000_000))
        #expect(scheduler.admission(s) == nil)
        // Before any launch completed, two in flight are the most.
        let fresh = scheduler.add(percent: 100, mode: .share)
        scheduler.update(fresh, WorkerUsage(busyNanoseconds: 0, inFlight: 2, meanLaunchNanoseconds: 0))
        #expect(scheduler.admission(fresh) != nil)
    }

    @Test func sessionsTakeTurnsOnTheGPU() {
        let scheduler = GPUTimeScheduler(idleAfterNanoseconds: 3_600_000_000_000, turnStaleNanoseconds: .max)
        let a = scheduler.add(percent: 50, mode: .share), b = scheduler.add(percent: 50, mode: .share)
        #expect(scheduler.admission(a) == nil)
        _ = scheduler.launched(a)
        scheduler.update(a, WorkerUsage(busyNanoseconds: 0, inFlight: 1, meanLaunchNanoseconds: 100_000))
        #expect(scheduler.admission(b) != nil, "a's launch is in flight: b waits")
        #expect(scheduler.admission(a) == nil, "a keeps its turn")
        // a is now more than a slice ahead of b: held back, and b still waits while a's launches drain.
        scheduler.update(a, WorkerUsage(busyNanoseconds: 3_000_000, inFlight: 1, meanLaunchNanoseconds: 100_000))
        #expect(scheduler.admission(a) != nil)
        #expect(scheduler.admission(b) != nil)
        scheduler.update(a, WorkerUsage(busyNanoseconds: 3_100_000, inFlight: 0, meanLaunchNanoseconds: 100_000))
        #expect(scheduler.admission(b) == nil, "a drained: b's turn")
        _ = scheduler.launched(b)
        scheduler.update(b, WorkerUsage(busyNanoseconds: 0, inFlight: 1, meanLaunchNanoseconds: 100_000))
        #expect(scheduler.admission(a) != nil)
        // A holder that leaves hands the GPU on at once.
        scheduler.remove(b)
        scheduler.update(a, WorkerUsage(busyNanoseconds: 3_100_000, inFlight: 0, meanLaunchNanoseconds: 100_000))
        #expect(scheduler.admission(a) == nil)
    }

    @Test func launchesPostedBetweenReportsCountAsInFlight() {
        let scheduler = GPUTimeScheduler()
        let s = scheduler.add(percent: 100, mode: .share)
        scheduler.update(s, WorkerUsage(busyNanoseconds: 0, inFlight: 0, meanLaunchNanoseconds: 1_000_000))
        var polls = 0
        for _ in 0..<GPUTimeScheduler.launchesPerUpdate where scheduler.launched(s) { polls += 1 }
        #expect(polls >= 1, "the worker is asked for its usage at least once per \(GPUTimeScheduler.launchesPerUpdate) launches")
        // Launches of 1 ms each, posted and not yet reported, fill the few milliseconds allowed in flight.
        #expect(scheduler.admission(s) != nil)
    }

    @Test func aLimitHoldsEvenOnAnIdleGPU() {
        let scheduler = GPUTimeScheduler()
        let capped = scheduler.add(percent: 25, mode: .limit)
        #expect(scheduler.admission(capped) == nil)
        // Ten seconds of device time: at 25 % that is forty seconds of wall time owed.
        scheduler.update(capped, WorkerUsage(busyNanoseconds: 10_000_000_000, inFlight: 0, meanLaunchNanoseconds: 1_000_000))
        #expect(scheduler.admission(capped) != nil)
        scheduler.remove(capped)
        #expect(scheduler.admission(capped) == nil)
    }

    /// A lone program on a simulated clock: `batch` launches of `kernel` ns, drained, then `gap` ns of host
    /// time, repeated; returns the batches per simulated second.
    func loneBatchesPerSecond(mode: ComputeMode, percent: Int, kernel: UInt64, gap: UInt64) -> Double {
        let time = Atomic<UInt64>(1_000_000_000)
        let scheduler = GPUTimeScheduler(clock: { time.load(ordering: .relaxed) })
        let s = scheduler.add(percent: percent, mode: mode)
        var busy: UInt64 = 0
        var batches = 0
        let start = time.load(ordering: .relaxed)
        while time.load(ordering: .relaxed) - start < 30_000_000_000 {
            for _ in 0..<4 {
                while let wait = scheduler.admission(s) { time.add(UInt64(wait) * 1_000, ordering: .relaxed) }
                _ = scheduler.launched(s)
                scheduler.update(s, WorkerUsage(busyNanoseconds: busy, inFlight: 1, meanLaunchNanoseconds: kernel))
                time.add(kernel, ordering: .relaxed)
                busy += kernel
                scheduler.update(s, WorkerUsage(busyNanoseconds: busy, inFlight: 0, meanLaunchNanoseconds: kernel))
            }
            batches += 1
            time.add(gap, ordering: .relaxed)
        }
        return Double(batches) / (Double(time.load(ordering: .relaxed) - start) / 1e9)
    }

    @Test(arguments: [10, 25, 50])
    func aLimitedProgramRunsAtItsLimitOfItsOwnSpeed(percent: Int) {
        // 4 × 1 ms kernels and 2 ms of host time per batch: alone the GPU is busy 2/3 of the time. Charging
        // device time only would give the limited program limit ÷ 2/3 of its unlimited throughput.
        let alone = loneBatchesPerSecond(mode: .share, percent: 100, kernel: 1_000_000, gap: 2_000_000)
        let limited = loneBatchesPerSecond(mode: .limit, percent: percent, kernel: 1_000_000, gap: 2_000_000)
        let relative = limited / alone
        #expect(abs(relative - Double(percent) / 100) <= 0.02, "relative throughput \(relative) at limit \(percent) %")
    }

    @Test func aDrainTheSchedulerCausedIsNotAHostGap() {
        // A limited session whose bucket ran dry asks, is refused, and its work drains meanwhile: that wait is
        // the limit at work, and charging it again as host time would push the session below its limit.
        let time = Atomic<UInt64>(1_000_000_000)
        let scheduler = GPUTimeScheduler(clock: { time.load(ordering: .relaxed) })
        let s = scheduler.add(percent: 50, mode: .limit)
        #expect(scheduler.admission(s) == nil)
        _ = scheduler.launched(s)
        scheduler.update(s, WorkerUsage(busyNanoseconds: 0, inFlight: 1, meanLaunchNanoseconds: 4_000_000))
        scheduler.update(s, WorkerUsage(busyNanoseconds: 4_000_000, inFlight: 1, meanLaunchNanoseconds: 4_000_000))
        // 4 ms charged against 1 ms of credit: refused for about 6 ms of refill at 50 %.
        #expect(scheduler.admission(s) != nil)
        scheduler.update(s, WorkerUsage(busyNanoseconds: 4_000_000, inFlight: 0, meanLaunchNanoseconds: 4_000_000))
        time.add(6_100_000, ordering: .relaxed)
        #expect(scheduler.admission(s) == nil, "the 6 ms the session waited were not charged as host time")
    }

    @Test func variablesAreLookedForByTheNamesAnImageSpellsOut() {
        let ptx = """
            .version 8.8
            .target sm_75
            .global .align 4 .b8 table[16];
            .const .align 4 .u32 scale;
            .visible .entry kernel(.param .u64 p) { ret; }
            """
        let names = Array(ptx.utf8).withUnsafeBytes { ImageSymbols.candidates(inModule: $0) }
        #expect(names.contains("table") && names.contains("scale") && names.contains("kernel"))
        #expect(!names.contains("global") && !names.contains("entry"))
    }

    @Test func inventoryCrossesTheWorkerLink() throws {
        let info = VirtualDeviceInfo(
            name: "NVIDIA H100", uuid: Array(0..<16), totalMemory: 80 << 30, computePercent: 100, physicalIndex: 0,
            multiprocessorCount: 132, computeCapabilityMajor: 9, computeCapabilityMinor: 0, clockRateKHz: 1_980_000,
            memoryClockRateKHz: 2_619_000, memoryBusWidth: 5120, l2CacheSize: 50 << 20, warpSize: 32, maxThreadsPerBlock: 1024,
            maxBlockDim: [1024, 1024, 64], maxGridDim: [2_147_483_647, 65535, 65535], sharedMemoryPerBlock: 49152,
            sharedMemoryPerBlockOptin: 232_448, sharedMemoryPerMultiprocessor: 233_472, registersPerBlock: 65536,
            registersPerMultiprocessor: 65536, maxThreadsPerMultiprocessor: 2048, maxBlocksPerMultiprocessor: 32,
            totalConstantMemory: 65536, textureAlignment: 512, memoryPitch: 2_147_483_647, pciBusID: 0x1b)
        let inventory = WorkerInventory(driverVersion: 13000, gpus: [ProbedGPU(info: info, pciAddress: "0000:1B:00.0", contextOverhead: 555 << 20,
                                                                             virtualMemoryGranularity: 2 << 20)])
        var w = WireWriter()
        inventory.encode(into: &w)
        let decoded = try w.bytes.withUnsafeBytes { b in
            var r = WireReader(b)
            return try WorkerInventory(from: &r)
        }
        #expect(decoded == inventory)
        #expect(CUDABackend.uuidString(Array(0..<16)) == "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f")
    }
}
