#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Sends pipelined requests that would otherwise wait in the buffer: a program that launches kernels and then
/// computes on the host without calling CUDA still gets its GPU work started within a fraction of a
/// millisecond. The thread starts with the first pipelined request and sleeps while nothing is pending.
///
/// It sends only what has waited ``delayMicroseconds``: in a loop of small calls (a memset, then a
/// synchronise) the program's own next call sends the buffer first, and the flusher must then cost the program
/// nothing. So it reads the buffers' ages without the runtime lock, stays awake (polling, no system calls on
/// the program's side) for a short while after activity instead of being woken by a futex on every call, and
/// when it must send while a program thread holds the runtime lock, it tries again after the delay before it
/// waits for the lock.
package final class PipelineFlusher: @unchecked Sendable {
    /// When a connection's pipelined requests started waiting (monotonic nanoseconds), 0 while its buffer is
    /// empty. Written by the program under the runtime lock, read by the flusher without it.
    package final class BufferAge: Sendable {
        private let since = Atomic<UInt64>(0)
        package init() {}
        @inline(__always) package func markBuffered() { since.store(PipelineFlusher.now(), ordering: .releasing) }
        @inline(__always) package func markEmpty() { since.store(0, ordering: .releasing) }
        var value: UInt64 { since.load(ordering: .acquiring) }
    }

    /// What one attempt to send the buffers found.
    package enum FlushOutcome {
        /// Everything buffered was sent.
        case sent
        /// Something is still buffered (sent partly, or buffered again meanwhile).
        case stillPending
        /// The runtime lock was held by a program thread; nothing was tried.
        case busy
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending = false
    private var started = false
    private var ages: [BufferAge] = []
    /// Delay before a buffered request is sent by this thread rather than by the program's own next call.
    package static let delayMicroseconds: UInt32 = 100
    /// Empty rounds (of the delay each) the thread stays awake after the last buffered request.
    static let lingerRounds = 20
    /// Attempts in a row that find the runtime lock held before the flusher waits for it.
    static let busyAttemptsBeforeWaiting = 4

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    @inline(__always)
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    /// Called (under the runtime lock) when a buffer goes from empty to non-empty. `ages` are the session's
    /// connections' buffer ages (fixed for the session); `flush(mayWait)` sends what is buffered, and without
    /// `mayWait` gives up (`.busy`) when the runtime lock is held.
    package func bufferBecameNonEmpty(ages: [BufferAge], flush: @escaping @Sendable (_ mayWait: Bool) -> FlushOutcome) {
        pthread_mutex_lock(mutex)
        pending = true
        if !started {
            started = true
            self.ages = ages
            start(flush)
        }
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func start(_ flush: @escaping @Sendable (Bool) -> FlushOutcome) {
        final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box { [self] in loop(flush) }).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 << 10)
        if pthread_create(&thread, &attributes, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box) != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
        }
        pthread_attr_destroy(&attributes)
    }

    private func loop(_ flush: @Sendable (Bool) -> FlushOutcome) {
        pthread_mutex_lock(mutex)
        let ages = self.ages
        pthread_mutex_unlock(mutex)
        let delay = UInt64(Self.delayMicroseconds) * 1_000
        while true {
            pthread_mutex_lock(mutex)
            while !pending { pthread_cond_wait(condition, mutex) }
            pending = false
            pthread_mutex_unlock(mutex)
            var emptyRounds = 0
            var busyAttempts = 0
            while emptyRounds < Self.lingerRounds {
                usleep(Self.delayMicroseconds)
                var oldest = UInt64.max
                for age in ages { let v = age.value; if v != 0 { oldest = min(oldest, v) } }
                guard oldest != .max else { emptyRounds += 1; continue }
                emptyRounds = 0
                guard Self.now() &- oldest >= delay else { continue }
                let outcome = flush(busyAttempts >= Self.busyAttemptsBeforeWaiting)
                busyAttempts = outcome == .busy ? busyAttempts + 1 : 0
            }
        }
    }
}
