import Dispatch
import Synchronization

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

    let queue: DispatchQueue
    let tail = Mutex<Completion?>(nil)

    init(id: Int, nonBlocking: Bool, priority: Int) {
        self.id = id
        self.nonBlocking = nonBlocking
        self.priority = priority
        self.queue = DispatchQueue(label: "tessera.sim.stream.\(id)")
    }

    var isLegacyDefault: Bool { id == 0 }

    /// Whether all work queued so far has finished.
    public var isIdle: Bool { tail.withLock { $0 }?.isDone ?? true }

    func waitIdle() { tail.withLock { $0 }?.wait() }
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
