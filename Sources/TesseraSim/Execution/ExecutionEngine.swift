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
}

/// Runs kernel launches: blocks are distributed over worker threads, each block's warps are interpreted
/// in lockstep by one ``BlockExecutor``.
final class ExecutionEngine: Sendable {
    /// Worker threads per launch (the machine's cores by default).
    let workers: Int
    private let idleExecutors = Mutex<[BlockExecutorBox]>([])

    static var defaultWorkerCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    init(workers: Int) { self.workers = max(1, workers) }

    /// Executes a launch to completion, or until a fault or cancellation. Throws the first fault.
    /// - Returns: the number of warp-instructions executed.
    @discardableResult
    func execute(_ launch: KernelLaunch, memory: AddressMap, context: SimContext) throws(SimError) -> Int {
        let blocks = launch.grid.count
        let shared = LaunchState()
        let threads = min(workers, blocks)
        let body: @Sendable (Int) -> Void = { [self] _ in
            let box = takeExecutor()
            defer {
                shared.instructions.add(box.executor.instructionCount, ordering: .relaxed)
                box.executor.instructionCount = 0
                returnExecutor(box)
            }
            box.executor.prepare(launch: launch, memory: memory)
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
        if threads <= 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads, execute: body)
        }
        if let error = shared.error.withLock({ $0 }) { throw error }
        return shared.instructions.load(ordering: .relaxed)
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
    let nextBlock = Atomic<Int>(0)
    let abort = Atomic<Bool>(false)
    let instructions = Atomic<Int>(0)
    let error = Mutex<SimError?>(nil)

    func fail(_ e: SimError) {
        error.withLock { if $0 == nil { $0 = e } }
        abort.store(true, ordering: .relaxed)
    }
}

/// A block executor handed between threads; only one thread uses it at a time.
final class BlockExecutorBox: @unchecked Sendable {
    let executor = BlockExecutor()
}
