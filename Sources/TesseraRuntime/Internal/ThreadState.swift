#if canImport(Glibc)
import Glibc
#endif
import CCudaABI

/// CUDA state that belongs to each host thread: its current device, its last error and its stack of launch
/// configurations (pushed by `<<<…>>>`, popped by the kernel's host stub).
final class ThreadState {
    var device: Int = 0
    var lastError: Int32 = 0
    var configurations: [LaunchConfiguration] = []

    struct LaunchConfiguration {
        var grid: tessera_dim3
        var block: tessera_dim3
        var sharedMemory: Int
        var stream: UInt
    }

    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            if let p { Unmanaged<ThreadState>.fromOpaque(p).release() }
        }
        return k
    }()

    /// The calling thread's state, created on first use.
    static var current: ThreadState {
        if let p = pthread_getspecific(key) { return Unmanaged<ThreadState>.fromOpaque(p).takeUnretainedValue() }
        let s = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }
}
