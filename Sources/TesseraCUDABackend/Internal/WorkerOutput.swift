#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A worker's standard output: where the GPU driver writes kernels' device `printf` output, in the worker's
/// process, when the worker synchronises. The session forwards it to the program at the same synchronisation
/// point (``take()`` drains the pipe first, so what the worker wrote before it replied goes out with that
/// reply); a thread drains it in between, so a worker never blocks on a full pipe while the node waits for it.
final class WorkerOutput: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var dropped = 0
        var closed = false
    }
    private let fd: Int32
    private let state = Mutex(State())
    /// Output kept between two synchronisation points; beyond it, bytes are dropped (and counted), as a full
    /// device printf FIFO drops them.
    static let capacity = 16 << 20

    /// Takes the read end of the worker's stdout pipe (it becomes non-blocking) and starts draining it.
    init(readEnd: Int32) {
        fd = readEnd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        // A larger pipe: the driver's printf FIFO holds 1 MiB by default.
        _ = fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20)
        final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box { [self] in drainUntilClosed() }).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 128 << 10)
        if pthread_create(&thread, &attributes, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box) != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            state.withLock { s in s.closed = true; close(fd) }
        }
        pthread_attr_destroy(&attributes)
    }

    /// Everything the worker has written so far.
    func take() -> [UInt8] {
        state.withLock { s in
            Self.drain(fd, into: &s)
            defer { s.bytes = [] }
            return s.bytes
        }
    }

    private func drainUntilClosed() {
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, -1) < 0 && errno != EINTR { break }
            let done = state.withLock { s -> Bool in
                Self.drain(fd, into: &s)
                if s.closed { close(fd) }
                return s.closed
            }
            if done { return }
        }
        state.withLock { s in
            if !s.closed { s.closed = true; close(fd) }
        }
    }

    /// Reads what the pipe holds without blocking; marks the state closed at end of file.
    private static func drain(_ fd: Int32, into s: inout State) {
        guard !s.closed else { return }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                let keep = min(n, max(0, capacity - s.bytes.count))
                s.bytes.append(contentsOf: chunk[0..<keep])
                s.dropped += n - keep
            } else if n == 0 {
                s.closed = true
                return
            } else if errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
