import Synchronization
import Testing
@testable import TesseraSim

/// The compute scheduler's decisions on a simulated clock: no threads, no sleeping, no timing assertions.
/// A lone program launches a batch of kernels, then synchronises and launches again after a host gap;
/// a unit that cannot start sleeps the scheduler's retry delay plus a wake-up latency, as a thread does.
struct DeviceSchedulerTests {
    final class SimulatedClock: Sendable {
        let nanoseconds = Atomic<UInt64>(1_000_000_000)
        var now: UInt64 { nanoseconds.load(ordering: .relaxed) }
        func advance(_ ns: UInt64) { nanoseconds.add(ns, ordering: .relaxed) }
    }

    final class Program {}

    struct Outcome {
        var kernelsPerSecond: Double
        var busyFraction: Double
    }

    /// Runs batches of `batch` kernels of `kernel` ns each, with `gap` ns of host time between batches, for
    /// `seconds` of simulated time: long against the burst window, so the initial bucket does not count.
    /// A multi-block kernel models its device time (`kernel`) and holds the device longer: `threadsWakeUp` more for
    /// its other threads' usual wake-up, or `hostSlowdown` times as long (its second thread woke milliseconds late).
    func lone(_ quota: ComputeQuota, kernel: UInt64, batch: Int = 4, gap: UInt64, wakeLatency: UInt64, seconds: Double = 30,
              threadsWakeUp: UInt64 = 0, hostSlowdown: Double = 1) -> Outcome {
        let clock = SimulatedClock()
        let scheduler = DeviceScheduler(clock: { clock.now })
        let program = Program()
        let id = ObjectIdentifier(program)
        scheduler.register(id, quota: quota)
        let start = clock.now
        var busy: UInt64 = 0
        var batches = 0
        while clock.now - start < UInt64(seconds * 1e9) {
            batches += 1
            for _ in 0..<batch { scheduler.notePending(id) }
            for _ in 0..<batch {
                while !scheduler.tryStart(id) {
                    clock.advance((scheduler.retryDelay(id) ?? 2_000_000) + wakeLatency)
                }
                let unitStart = clock.now
                clock.advance(UInt64(Double(kernel) * hostSlowdown) + threadsWakeUp)
                let modelled = hostSlowdown == 1 && threadsWakeUp == 0 ? nil : kernel
                scheduler.finish(id, start: unitStart, charged: modelled)
                busy += kernel
            }
            clock.advance(gap)
        }
        let wall = Double(clock.now - start)
        return Outcome(kernelsPerSecond: Double(batches * batch) / (wall / 1e9), busyFraction: Double(busy) / wall)
    }

    @Test(arguments: [5, 10, 25, 50, 75])
    func limitGivesItsShareOfTheUnlimitedThroughput(percent: Int) {
        // 1 ms kernels, 4 per synchronisation, 30 µs of host time between batches, 150 µs to wake a thread.
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 1_000_000, gap: 30_000, wakeLatency: 150_000)
        let limited = lone(ComputeQuota(percent: percent, mode: .limit), kernel: 1_000_000, gap: 30_000, wakeLatency: 150_000)
        let relative = limited.kernelsPerSecond / unlimited.kernelsPerSecond
        #expect(abs(relative - Double(percent) / 100) <= 0.02, "relative throughput \(relative) at limit \(percent) %")
        #expect(abs(limited.busyFraction - Double(percent) / 100) <= 0.02, "busy \(limited.busyFraction) at limit \(percent) %")
    }

    @Test(arguments: [5, 10, 25, 50, 75])
    func limitChargesTheProgramsOwnHostGaps(percent: Int) {
        // 4 × 1 ms kernels and 2 ms of host time per batch: alone, the program keeps the device busy only 2/3
        // of the time. Charging device time alone would give it limit ÷ 2/3 of its unlimited throughput.
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 1_000_000, gap: 2_000_000, wakeLatency: 150_000)
        let limited = lone(ComputeQuota(percent: percent, mode: .limit), kernel: 1_000_000, gap: 2_000_000, wakeLatency: 150_000)
        let relative = limited.kernelsPerSecond / unlimited.kernelsPerSecond
        #expect(unlimited.busyFraction < 0.7)
        #expect(abs(relative - Double(percent) / 100) <= 0.02, "relative throughput \(relative) at limit \(percent) %")
    }

    @Test(arguments: [5, 10, 25, 50])
    func limitChargesModelledDeviceTimeNotTheHostsLateWakeUps(percent: Int) {
        // 2 ms kernels of several blocks: unlimited, the program runs them back to back on warm threads (30 µs to
        // wake the second one); limited, it pauses between kernels and the host wakes the second thread late, so
        // each kernel holds the device 1.8× as long. Charged its modelled device time and the allowance for the
        // wake-up, it still gets its share of the unlimited throughput. (Slightly less: it pays the whole 100 µs
        // allowance where the unlimited program waits 30 µs, the worst case when every kernel wakes late.)
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 2_000_000, gap: 30_000, wakeLatency: 150_000,
                             threadsWakeUp: 30_000)
        let limited = lone(ComputeQuota(percent: percent, mode: .limit), kernel: 2_000_000, gap: 30_000, wakeLatency: 150_000,
                           threadsWakeUp: 30_000, hostSlowdown: 1.8)
        let relative = limited.kernelsPerSecond / unlimited.kernelsPerSecond
        #expect(abs(relative - Double(percent) / 100) <= 0.02, "relative throughput \(relative) at limit \(percent) %")
    }

    @Test(arguments: [25, 50, 75])
    func limitPaysTheKernelThreadsUsualWakeUp(percent: Int) {
        // 2 ms kernels whose second thread joins 40 µs after the first, limited or not. The unlimited program waits
        // for that wake-up at every kernel; charged its modelled device time alone, the limited program would not
        // pay it and would run 2 % faster than its limit relative to the unlimited one (+1.5 pp at 75 %).
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 2_000_000, gap: 30_000, wakeLatency: 150_000,
                             threadsWakeUp: 40_000)
        let limited = lone(ComputeQuota(percent: percent, mode: .limit), kernel: 2_000_000, gap: 30_000, wakeLatency: 150_000,
                           threadsWakeUp: 40_000)
        let relative = limited.kernelsPerSecond / unlimited.kernelsPerSecond
        #expect(abs(relative - Double(percent) / 100) <= 0.005, "relative throughput \(relative) at limit \(percent) %")
    }

    @Test func chargeIsTheModelledTimePlusTheUsualWakeUpAtMost() {
        #expect(DeviceScheduler.charge(wall: 2_040_000, modelled: 2_000_000) == 2_040_000)
        #expect(DeviceScheduler.charge(wall: 3_600_000, modelled: 2_000_000) == 2_000_000 + DeviceScheduler.wakeUpAllowance)
        #expect(DeviceScheduler.charge(wall: 1_000_000, modelled: nil) == 1_000_000)
    }

    @Test func chargeIsCappedByWallTime() {
        let clock = SimulatedClock()
        let scheduler = DeviceScheduler(clock: { clock.now })
        let program = Program()
        let id = ObjectIdentifier(program)
        scheduler.register(id, quota: ComputeQuota(percent: 100))
        scheduler.notePending(id)
        #expect(scheduler.tryStart(id))
        let start = clock.now
        clock.advance(1_000_000)
        // A modelled time above the wall time (clock skew between threads) is not believed.
        scheduler.finish(id, start: start, charged: 5_000_000)
        let charged = scheduler.state.withLock { $0.clients[id]!.virtualTime }
        #expect(charged == 1_000_000)
    }

    @Test func makespanDealsBlocksInOrderToTheEarliestFreeUnit() {
        let even = [(block: 2, nanoseconds: UInt64(4)), (3, 4), (0, 4), (1, 4)]
        #expect(ExecutionEngine.makespan(even, units: 2) == 8)
        #expect(ExecutionEngine.makespan(even, units: 1) == 16)
        #expect(ExecutionEngine.makespan(even, units: 4) == 4)
        // A long first block keeps one unit while the other takes the rest.
        #expect(ExecutionEngine.makespan([(0, 10), (1, 1), (2, 1), (3, 1)], units: 2) == 10)
        // Three equal blocks on two units take two blocks' time, not one and a half.
        #expect(ExecutionEngine.makespan([(0, 6), (1, 6), (2, 6)], units: 2) == 12)
        #expect(ExecutionEngine.makespan([], units: 2) == 0)
    }

    /// A `limit` program pays for its own host time between kernels, from its last kernel's end to its next
    /// launch, and not for the time the scheduler's thread takes to notice that launch (a stream worker woken
    /// late on a busy host).
    @Test func hostGapEndsAtTheLaunchPlusTheWorkersUsualWakeUp() {
        func tokensAfterGap(announcedBeforeLook: UInt64) -> Double {
            let clock = SimulatedClock()
            let scheduler = DeviceScheduler(clock: { clock.now })
            let program = Program()
            let id = ObjectIdentifier(program)
            let announcements = DeviceScheduler.Announcements()
            scheduler.register(id, quota: ComputeQuota(percent: 50, mode: .limit), announcements: announcements)
            scheduler.announce(announcements)
            #expect(scheduler.tryStart(id))
            // A 60 ms kernel overdraws the 25 ms bucket, so no refill below is lost to its cap.
            let start = clock.now
            clock.advance(60_000_000)
            scheduler.finish(id, start: start)
            // 10 µs of host time, then the launch; the stream's worker reaches it (the scheduler looks) later.
            clock.advance(10_000)
            scheduler.announce(announcements)
            clock.advance(announcedBeforeLook)
            _ = scheduler.tryStart(id)
            return scheduler.state.withLock { $0.clients[id]!.tokens }
        }
        let lookedAtOnce = tokensAfterGap(announcedBeforeLook: 0)
        // The worker's usual wake-up (30 µs) is paid, as an unlimited program waits for it too: the bucket refilled
        // 15 µs more at 50 % and paid 30 µs more.
        let usualWakeUp = tokensAfterGap(announcedBeforeLook: 30_000)
        #expect(abs((usualWakeUp - lookedAtOnce) - -15_000) < 1)
        // A 3 ms stall of the host is not the program's: it pays the allowance only (3 ms of refill at 50 %, less
        // 100 µs), not the 3 ms (which would leave it 1.5 ms behind).
        let stalled = tokensAfterGap(announcedBeforeLook: 3_000_000)
        #expect(abs((stalled - lookedAtOnce) - (1_500_000 - Double(DeviceScheduler.wakeUpAllowance))) < 1)
    }

    @Test func longHostGapsAreIdlenessNotCharged() {
        // 100 ms of host work between batches is beyond the allowance: the program is idle, and a 50 % limit
        // does not slow a program that uses the device less than half the time.
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 1_000_000, gap: 100_000_000, wakeLatency: 150_000)
        let limited = lone(ComputeQuota(percent: 50, mode: .limit), kernel: 1_000_000, gap: 100_000_000, wakeLatency: 150_000)
        #expect(limited.kernelsPerSecond == unlimited.kernelsPerSecond)
    }

    @Test(arguments: [10, 50])
    func limitHoldsForShortAndLongKernels(percent: Int) {
        for kernel: UInt64 in [100_000, 20_000_000] {
            let limited = lone(ComputeQuota(percent: percent, mode: .limit), kernel: kernel, gap: 10_000, wakeLatency: 150_000)
            #expect(abs(limited.busyFraction - Double(percent) / 100) <= 0.02, "busy \(limited.busyFraction) with \(kernel) ns kernels")
        }
    }

    @Test func shareModeDoesNotThrottleALoneProgram() {
        let shared = lone(ComputeQuota(percent: 10, mode: .share), kernel: 1_000_000, gap: 30_000, wakeLatency: 150_000)
        let unlimited = lone(ComputeQuota(percent: 100), kernel: 1_000_000, gap: 30_000, wakeLatency: 150_000)
        #expect(shared.kernelsPerSecond == unlimited.kernelsPerSecond)
    }

    @Test func idleTimeBanksAtMostTheBurstWindow() {
        // After a long idle stretch, a limited program runs back to back only for its bucket (share × window).
        let clock = SimulatedClock()
        let scheduler = DeviceScheduler(clock: { clock.now })
        let program = Program()
        let id = ObjectIdentifier(program)
        scheduler.register(id, quota: ComputeQuota(percent: 10, mode: .limit))
        clock.advance(10_000_000_000)
        var immediate = 0
        for _ in 0..<100 {
            scheduler.notePending(id)
            guard scheduler.tryStart(id) else { break }
            let s = clock.now
            clock.advance(1_000_000)
            scheduler.finish(id, start: s)
            immediate += 1
        }
        // 10 % of the 50 ms window is 5 ms of device time: five 1 ms kernels (the fifth may overrun).
        #expect(immediate >= 5 && immediate <= 6, "\(immediate) kernels ran back to back")
    }
}
