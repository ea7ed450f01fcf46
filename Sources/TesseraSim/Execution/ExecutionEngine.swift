import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One kernel launch as queued: the kernel, its shape and its packed parameters.
struct KernelLaunch: Sendable {
    var kernel: SimKernel
    var grid: Dim3
    var block: Dim3
    var dynamicSharedBytes: Int
    var parameters: [UInt8]
    /// Cooperative launches: every block is resident at once, and this is the device address of the grid
    /// workspace (`{wsSize, barrier}`) that cooperative groups' grid sync uses; 0 otherwise.
    var cooperative = false
    var gridWorkspace: UInt64 = 0
}

/// Runs kernel launches: blocks are distributed over worker threads, each block's warps are interpreted
/// in lockstep by one ``BlockExecutor``.
final class ExecutionEngine: Sendable {
    /// Worker threads per launch (the machine's cores by default).
    let workers: Int
    private let idleExecutors = Mutex<[BlockExecutorBox]>([])

    static var defaultWorkerCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The device clock (kHz) that `%clock`/`%globaltimer` advance at.
    let clockRateKHz: UInt64
    /// Wall-clock nanoseconds when the device was created: the origin of `%globaltimer`.
    let timerEpochNanoseconds: UInt64
    /// The latest SM clock any executor has reached; executors start from it so clocks stay monotonic
    /// across launches whichever executor runs a block.
    private let clockFloor = Atomic<UInt64>(0)

    init(workers: Int, clockRateKHz: Int = 1_755_000) {
        self.workers = max(1, workers)
        self.clockRateKHz = UInt64(max(1, clockRateKHz))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        timerEpochNanoseconds = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// What a finished launch did.
    struct Outcome {
        /// Warp-instructions executed.
        var instructions: Int
        /// The kernel's device time as the simulated device models it: its blocks, each taking the host time it
        /// took, dealt in order to the earliest free of the launch's worker threads. Nil for a launch on one
        /// thread, whose wall time is its device time.
        var deviceNanoseconds: UInt64?
    }

    /// Executes a launch to completion, or until a fault or cancellation. Throws the first fault.
    @discardableResult
    func execute(_ launch: KernelLaunch, memory: AddressMap, context: SimContext, output: DeviceOutput? = nil) throws(SimError) -> Outcome {
        let blocks = launch.grid.count
        let shared = LaunchState(context: context, output: output)
        let threads = min(workers, blocks)
        // With several threads, each block's own duration is kept: after a pause, the host may wake the second
        // thread late (milliseconds on a virtual machine), and the device time must not include that wait.
        let timesBlocks = threads > 1 && !launch.cooperative
        if launch.cooperative {
            runCooperative(launch, memory: memory, shared: shared, threads: threads)
        } else if threads <= 1 {
            // One thread (most launches of small kernels): no closure, no per-thread bookkeeping.
            runBlocks(launch, memory: memory, shared: shared, blocks: blocks, timesBlocks: false)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads) { [self] _ in
                runBlocks(launch, memory: memory, shared: shared, blocks: blocks, timesBlocks: timesBlocks)
            }
        }
        if let error = shared.error.withLock({ $0 }) { throw error }
        let modelled = timesBlocks ? Self.makespan(shared.blockDurations.withLock { $0 }, units: threads) : nil
        return Outcome(instructions: shared.instructions.load(ordering: .relaxed), deviceNanoseconds: modelled)
    }

    /// One worker thread's part of a launch: it takes the next block until none is left or the launch stops.
    private func runBlocks(_ launch: KernelLaunch, memory: AddressMap, shared: LaunchState, blocks: Int, timesBlocks: Bool) {
        let box = takeExecutor()
        defer {
            shared.instructions.add(box.executor.instructionCount, ordering: .relaxed)
            box.executor.instructionCount = 0
            returnExecutor(box)
        }
        box.executor.prepare(launch: launch, memory: memory)
        box.executor.clockRateKHz = clockRateKHz
        box.executor.timerEpochNanoseconds = timerEpochNanoseconds
        box.executor.blockStartCycles = max(box.executor.blockStartCycles, clockFloor.load(ordering: .relaxed))
        defer { clockFloor.max(box.executor.blockStartCycles, ordering: .relaxed) }
        var durations: [(block: Int, nanoseconds: UInt64)] = []
        while !shared.abort.load(ordering: .relaxed) {
            let index = shared.nextBlock.add(1, ordering: .relaxed).oldValue
            if index >= blocks { break }
            if shared.context.cancelled.load(ordering: .relaxed) {
                shared.fail(SimError(.launchFailure, "kernel \(launch.kernel.name) cancelled: its context was destroyed"))
                break
            }
            let blockStart = timesBlocks ? DispatchTime.now().uptimeNanoseconds : 0
            if let error = box.executor.runBlock(linear: index, abort: shared) {
                shared.fail(error)
                break
            }
            if timesBlocks { durations.append((index, DispatchTime.now().uptimeNanoseconds - blockStart)) }
        }
        if timesBlocks { shared.blockDurations.withLock { $0 += durations } }
    }

    /// How long blocks of the given durations take on `units` parallel units that each take the next block (in
    /// block order) as soon as they are free, as the device's multiprocessors and the engine's threads do.
    static func makespan(_ durations: [(block: Int, nanoseconds: UInt64)], units: Int) -> UInt64 {
        var free = [UInt64](repeating: 0, count: max(1, units))
        for d in durations.sorted(by: { $0.block < $1.block }) {
            // `units` is the host's core count: a linear scan beats a heap.
            var earliest = 0
            for u in free.indices where free[u] < free[earliest] { earliest = u }
            free[earliest] += d.nanoseconds
        }
        return free.max() ?? 0
    }

    /// A cooperative launch: all blocks are resident together (one executor each), and each worker thread
    /// interleaves its blocks, switching whenever a block's warps spin, so grid-wide barriers complete.
    private func runCooperative(_ launch: KernelLaunch, memory: AddressMap, shared: LaunchState, threads: Int) {
        let blocks = launch.grid.count
        let boxes = (0..<blocks).map { _ in takeExecutor() }
        let floor = clockFloor.load(ordering: .relaxed)
        for (i, box) in boxes.enumerated() {
            box.executor.prepare(launch: launch, memory: memory)
            box.executor.clockRateKHz = clockRateKHz
            box.executor.timerEpochNanoseconds = timerEpochNanoseconds
            box.executor.blockStartCycles = max(box.executor.blockStartCycles, floor)
            box.executor.spinSlice = 1 << 10
            if let error = box.executor.beginBlock(linear: i) { shared.fail(error) }
        }
        let work: @Sendable (Int) -> Void = { t in
            var mine = Array(stride(from: t, to: blocks, by: threads))
            while !mine.isEmpty && !shared.abort.load(ordering: .relaxed) {
                var next: [Int] = []
                for i in mine {
                    switch boxes[i].executor.resume(abort: shared, yieldOnSpin: true) {
                    case .done: break
                    case .yielded: next.append(i)
                    case .fault(let e): shared.fail(e)
                    }
                    if shared.shouldStop { return }
                }
                mine = next
            }
        }
        if threads <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        for box in boxes {
            shared.instructions.add(box.executor.instructionCount, ordering: .relaxed)
            box.executor.instructionCount = 0
            box.executor.spinSlice = 1 << 16
            clockFloor.max(box.executor.blockStartCycles, ordering: .relaxed)
            returnExecutor(box)
        }
    }

    private func takeExecutor() -> BlockExecutorBox {
        idleExecutors.withLock { $0.popLast() } ?? BlockExecutorBox()
    }

    private func returnExecutor(_ box: BlockExecutorBox) {
        idleExecutors.withLock { if $0.count < 64 { $0.append(box) } }
    }
}

/// Shared state of one launch across its worker threads.
final class LaunchState: Sendable {
    /// The launching context: its destruction stops the kernel, even inside a block that never ends.
    let context: SimContext
    let nextBlock = Atomic<Int>(0)
    let abort = Atomic<Bool>(false)
    let instructions = Atomic<Int>(0)
    /// Each finished block's host time, when the launch models its device time from them.
    let blockDurations = Mutex<[(block: Int, nanoseconds: UInt64)]>([])
    let error = Mutex<SimError?>(nil)
    /// Where the launch's printf and assert output goes.
    let output: DeviceOutput?

    init(context: SimContext, output: DeviceOutput? = nil) {
        self.context = context
        self.output = output
    }

    /// Whether running warps should stop: a fault elsewhere in the launch, or the context being destroyed.
    @inline(__always)
    var shouldStop: Bool { abort.load(ordering: .relaxed) || context.cancelled.load(ordering: .relaxed) }

    func fail(_ e: SimError) {
        error.withLock { if $0 == nil { $0 = e } }
        abort.store(true, ordering: .relaxed)
    }
}

/// A block executor handed between threads; only one thread uses it at a time.
final class BlockExecutorBox: @unchecked Sendable {
    let executor = BlockExecutor()
}
