import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-order queue of device work in one context.
///
/// The context's ``SimContext/defaultStream`` is CUDA's legacy default stream: work on it waits for all
/// earlier work on blocking streams, and work on blocking streams waits for earlier default-stream work.
/// Streams created non-blocking take part in neither rule.
public final class SimStream: Sendable {
    /// Identifier unique within the context (0 is the legacy default stream).
    public let id: Int
    /// Created with `cudaStreamNonBlocking`.
    public let nonBlocking: Bool
    /// Scheduling priority as given at creation (recorded; the simulator runs streams fairly).
    public let priority: Int

    /// The stream's worker: one drain loop at a time runs the queued work in order.
    let queue: DispatchQueue
    /// The completion of the last work queued, and whether that work went to the worker (`queued`): later
    /// queued work follows it by order alone; work that ran inline on a caller's thread must be waited for.
    let tail = Mutex<Tail>(Tail())
    struct Tail {
        var completion: Completion?
        var queued = false
        /// Sequence number of the next unit handed to the worker (see ``submit(_:sequence:)``).
        var nextSequence = 0
    }
    /// Work waiting for the worker, in order, and whether a drain loop is running. Work queued while the loop
    /// runs joins its batch: no hand-off to Dispatch and no thread wake-up per unit.
    let pending = Mutex<Pending>(Pending())
    struct Pending {
        var items: [QueuedWork?] = []
        var draining = false
        /// The drain loop ran out of work and waits on ``SimStream/wakeUp`` for more, keeping its thread.
        var parked = false
        /// The sequence number the next submitted unit must carry.
        var expected = 0
    }
    /// One unit of queued work: `context` runs it once `dependencies` (work on other streams, or inline work
    /// on this one) have completed, then signals `done`.
    struct QueuedWork {
        let context: SimContext
        let dependencies: [Completion]
        let onDevice: Bool
        let done: Completion
        let work: @Sendable () throws(SimError) -> Void
    }

    /// Signalled when work arrives for a parked drain loop.
    let wakeUp = DispatchSemaphore(value: 0)
    /// How long a drain loop out of work keeps its thread, parked, before handing it back to Dispatch. A program
    /// that synchronises and launches again soon (most do) then finds its worker waiting: waking a parked
    /// thread is one futex wake, where asking Dispatch for a thread again took 1–5 ms at times on a busy host.
    static let parkNanoseconds = 20_000_000

    init(id: Int, nonBlocking: Bool, priority: Int) {
        self.id = id
        self.nonBlocking = nonBlocking
        self.priority = priority
        self.queue = DispatchQueue(label: "tessera.sim.stream.\(id)")
    }

    var isLegacyDefault: Bool { id == 0 }

    /// Whether all work queued so far has finished.
    public var isIdle: Bool { tail.withLock { $0.completion }?.isDone ?? true }

    func waitIdle() { tail.withLock { $0.completion }?.wait() }

    /// Hands `item` to the stream's worker, starting a drain loop when none runs. `sequence` is the unit's place
    /// in the stream, taken with the tail (``Tail/nextSequence``): a thread that became the tail after another
    /// waits here until that one's unit is handed over, so the worker's order is the tails' order even when
    /// several threads queue on one stream (the hand-off happens outside the context's lock).
    func submit(_ item: QueuedWork, sequence: Int) {
        while true {
            let handed = pending.withLock { p -> Handover? in
                guard p.expected == sequence else { return nil }
                p.expected += 1
                p.items.append(item)
                if p.draining {
                    if !p.parked { return .joined }
                    p.parked = false
                    return .unparked
                }
                p.draining = true
                return .started
            }
            switch handed {
            case nil: sched_yield(); continue
            case .started: queue.async { [self] in drain() }
            case .unparked: wakeUp.signal()
            case .joined: break
            }
            return
        }
    }

    /// How ``submit(_:sequence:)`` handed a unit over.
    private enum Handover { case started, joined, unparked }

    /// Runs queued work in order, a batch per lock, until none is left and none came while parked.
    private func drain() {
        var batch: [QueuedWork?] = []
        while true {
            let park = pending.withLock { p -> Bool in
                if p.items.isEmpty { p.parked = true } else { swap(&batch, &p.items) }
                return p.parked
            }
            if park {
                if wakeUp.wait(timeout: .now() + .nanoseconds(Self.parkNanoseconds)) == .success { continue }
                // Timed out; a unit submitted meanwhile unparked the loop and signals (or has signalled) the semaphore.
                let signalled = pending.withLock { p -> Bool in
                    if !p.parked { return true }
                    p.parked = false
                    p.draining = false
                    return false
                }
                if !signalled { return }
                wakeUp.wait()
                continue
            }
            // Each unit moved out of the batch, not copied (a copy retains everything it holds).
            for i in batch.indices {
                guard let item = batch[i].take() else { continue }
                for d in item.dependencies { d.wait() }
                item.context.runQueued(item.work, onDevice: item.onDevice)
                item.done.signal()
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// A marker in a stream: when the stream reaches it, the event completes and takes a timestamp.
public final class SimEvent: Sendable {
    /// Created with `cudaEventDisableTiming`.
    public let timingDisabled: Bool

    struct State {
        var completion: Completion?
        var timestampNanoseconds: UInt64?
    }
    let state = Mutex(State())

    init(timingDisabled: Bool) { self.timingDisabled = timingDisabled }

    /// True when the last recorded point has been reached (or the event was never recorded).
    public var isComplete: Bool { state.withLock { $0.completion }?.isDone ?? true }

    /// Blocks until the last recorded point has been reached.
    public func synchronize() { state.withLock { $0.completion }?.wait() }

    /// Milliseconds between two completed events, as `cudaEventElapsedTime` reports them.
    public static func elapsedMilliseconds(from start: SimEvent, to end: SimEvent) throws(SimError) -> Float {
        guard !start.timingDisabled, !end.timingDisabled else {
            throw SimError(.invalidHandle, "event was created with timing disabled")
        }
        guard start.isComplete, end.isComplete else { throw SimError(.notReady, "event not yet complete") }
        guard let a = start.state.withLock({ $0.timestampNanoseconds }),
              let b = end.state.withLock({ $0.timestampNanoseconds }) else {
            throw SimError(.invalidHandle, "event was never recorded")
        }
        return Float(Int64(bitPattern: b &- a)) / 1_000_000
    }
}
