import Dispatch
import Synchronization

/// Marks the end of one unit of queued work; any number of threads may wait for it.
///
/// One is made per unit of work, so it is light: an atomic flag and, only once someone blocks on it, a
/// semaphore per waiter (most completions are never waited on: a stream's later work follows it by order).
final class Completion: Sendable {
    private let done = Atomic<Bool>(false)
    private let waiters = Mutex<[DispatchSemaphore]>([])

    init() {}

    /// Marks the work finished and wakes its waiters. Called once.
    func signal() {
        done.store(true, ordering: .releasing)
        // A waiter registers under the lock after checking `done`; taking the lock after the store means every
        // registered waiter is found here, and any later one sees `done`.
        let woken = waiters.withLock { w -> [DispatchSemaphore] in
            if w.isEmpty { return [] }
            defer { w = [] }
            return w
        }
        for s in woken { s.signal() }
    }

    func wait() {
        if isDone { return }
        let wake = DispatchSemaphore(value: 0)
        let registered = waiters.withLock { w -> Bool in
            if done.load(ordering: .acquiring) { return false }
            w.append(wake)
            return true
        }
        if registered { wake.wait() }
    }

    var isDone: Bool { done.load(ordering: .acquiring) }
}
