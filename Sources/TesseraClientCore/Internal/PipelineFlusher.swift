#if canImport(Glibc)
import Glibc
#endif

/// Sends pipelined requests that would otherwise wait in the buffer: a program that launches kernels and then
/// computes on the host without calling CUDA still gets its GPU work started within a fraction of a
/// millisecond. The thread starts with the first pipelined request and sleeps while nothing is pending.
package final class PipelineFlusher: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending = false
    private var started = false
    /// Delay before a buffered request is sent by this thread rather than by the program's own next call.
    package static let delayMicroseconds: UInt32 = 100

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Called (under the runtime lock) when the buffer goes from empty to non-empty.
    package func bufferBecameNonEmpty(flush: @escaping @Sendable () -> Bool) {
        pthread_mutex_lock(mutex)
        pending = true
        if !started {
            started = true
            start(flush)
        }
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func start(_ flush: @escaping @Sendable () -> Bool) {
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

    /// `flush` sends what is buffered and says whether anything is still pending.
    private func loop(_ flush: @Sendable () -> Bool) {
        while true {
            pthread_mutex_lock(mutex)
            while !pending { pthread_cond_wait(condition, mutex) }
            pending = false
            pthread_mutex_unlock(mutex)
            usleep(Self.delayMicroseconds)
            if flush() {
                pthread_mutex_lock(mutex)
                pending = true
                pthread_mutex_unlock(mutex)
            }
        }
    }
}
