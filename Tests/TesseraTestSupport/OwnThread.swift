import Foundation

/// Runs blocking work (synchronous HTTP to an in-process server, waiting on processes) on a thread of its own
/// and awaits it. Blocking inside an async test instead would hold one of the cooperative pool's few threads
/// (one per core) — the threads the in-process servers it waits for need to answer.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
