import Dispatch

/// Runs the tasks of in-process stand-ins and of the components tested against them on a thread of their own,
/// off Swift's cooperative pool: the suite's synchronous tests block that pool's few threads (one per core) for
/// seconds while they wait for processes, which would starve a kubelet stand-in past the plugin's own timeouts.
public final class StandInExecutor: TaskExecutor, @unchecked Sendable {
    /// One for the whole test process.
    public static let shared = StandInExecutor()

    // Serial: a queue of its own gets a thread of its own, whatever blocks the shared ones.
    private let queue = DispatchQueue(label: "tessera.test.stand-ins")

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
