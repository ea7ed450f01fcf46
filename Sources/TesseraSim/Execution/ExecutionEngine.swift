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

    /// Executes a launch to completion, or until a fault or cancellation. Throws the first fault.
    /// - Returns: the number of warp-instructions executed.
    @discardableResult
    func execute(_ launch: KernelLaunch, memory: AddressMap, context: SimContext, output: DeviceOutput? = nil) throws(SimError) -> Int {
        let blocks = launch.grid.count
        let shared = LaunchState(context: context, output: output)
        let threads = min(workers, blocks)
        let body: @Sendable (Int) -> Void = { [self] _ in
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
            while !shared.abort.load(ordering: .relaxed) {
                let index = shared.nextBlock.add(1, ordering: .relaxed).oldValue
                if index >= blocks { break }
                if context.cancelled.load(ordering: .relaxed) {
                    shared.fail(SimError(.launchFailure, "kernel \(launch.kernel.name) cancelled: its context was destroyed"))
                    break
                }
                if let error = box.executor.runBlock(linear: index, abort: shared) {
                    shared.fail(error)
                    break
                }
            }
        }
        if launch.cooperative {
            runCooperative(launch, memory: memory, shared: shared, threads: threads)
        } else if threads <= 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads, execute: body)
        }
        if let error = shared.error.withLock({ $0 }) { throw error }
        return shared.instructions.load(ordering: .relaxed)
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
