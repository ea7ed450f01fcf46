import Dispatch

/// Marks the end of one unit of queued work; any number of threads may wait for it.
final class Completion: @unchecked Sendable {
    private let group = DispatchGroup()

    init() { group.enter() }

    func signal() { group.leave() }

    func wait() { group.wait() }

    var isDone: Bool { group.wait(timeout: .now()) == .success }
}
