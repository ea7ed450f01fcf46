#if canImport(Glibc)
import Glibc
#endif

/// CUDA state that belongs to each host thread: its current device, its last error and its stack of launch
/// configurations (pushed by `<<<…>>>`, popped by the kernel's host stub).
package final class ThreadState {
    package var device: Int = 0
    package var lastError: Int32 = 0
    package var configurations: [LaunchConfiguration] = []
    /// The driver API's context stack (CUcontext handles), top last; its top decides ``device``.
    package var contextStack: [UInt] = []

    package struct LaunchConfiguration {
        package var grid: Dim3
        package var block: Dim3
        package var sharedMemory: Int
        package var stream: UInt

        package init(grid: Dim3, block: Dim3, sharedMemory: Int, stream: UInt) {
            self.grid = grid; self.block = block; self.sharedMemory = sharedMemory; self.stream = stream
        }
    }

    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            if let p { Unmanaged<ThreadState>.fromOpaque(p).release() }
        }
        return k
    }()

    /// The calling thread's state, created on first use.
    package static var current: ThreadState {
        if let p = pthread_getspecific(key) { return Unmanaged<ThreadState>.fromOpaque(p).takeUnretainedValue() }
        let s = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }
}
