import TesseraWire

/// What a session asks for: `count` vGPUs, each with `memoryBytes` of memory and `computePercent` of one GPU.
public struct VirtualGPURequest: Sendable, Hashable {
    public var count: Int
    public var memoryBytes: Int
    public var computePercent: Int
    /// How the share applies; placement counts percents the same for both modes.
    public var computeMode: ComputeMode
    /// Who asks, for the pool's records: the program's name and its owner (e.g. "uid 1000"); may be empty.
    public var program: String
    public var owner: String
    /// Who the program proved to be with a user token (TCP sessions); nil for kernel-identified or anonymous
    /// sessions.
    public var identity: SessionIdentity?
    /// Milliseconds the program may wait in its group's queue for room (0: refuse at once), and whom to tell
    /// how the wait goes.
    public var waitMilliseconds: Int = 0
    public var waiter: QueueWaiter?
    public init(count: Int, memoryBytes: Int, computePercent: Int, computeMode: ComputeMode = .share, program: String = "", owner: String = "") {
        self.computeMode = computeMode
        self.program = program
        self.owner = owner
        self.count = count
        self.memoryBytes = memoryBytes
        self.computePercent = computePercent
    }
}

/// How much of one physical GPU is already promised to vGPUs.
public struct GPUCapacity: Sendable, Hashable {
    public var index: Int
    public var totalMemory: Int
    public var grantedMemory: Int
    public var grantedComputePercent: Int
    /// Device memory one more context costs on this GPU outside its quota; granted memory includes it for every
    /// vGPU placed here.
    public var contextOverhead: Int
    public init(index: Int, totalMemory: Int, grantedMemory: Int = 0, grantedComputePercent: Int = 0, contextOverhead: Int = 0) {
        self.index = index
        self.totalMemory = totalMemory
        self.grantedMemory = grantedMemory
        self.grantedComputePercent = grantedComputePercent
        self.contextOverhead = contextOverhead
    }
    /// The largest quota one more vGPU may have here (its context's overhead taken out).
    public var freeMemory: Int { max(0, totalMemory - grantedMemory - contextOverhead) }
    public var freeComputePercent: Int { 100 - grantedComputePercent }
}

/// Why a request could not be placed.
public struct PlacementError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The pool checked a credential (an attach secret) and refused it: a failed authentication, counted by
    /// the node's rate limit. False for refusals that say nothing about the credential (no room, the
    /// controller unreachable).
    public var rejectedCredential: Bool
    public init(_ message: String, rejectedCredential: Bool = false) {
        self.message = message
        self.rejectedCredential = rejectedCredential
    }
    public var description: String { message }
}

/// The program behind a waiting request: a placement that queues tells it its position, and learns whether it
/// still waits (a program that went away leaves the queue). Compared by identity.
public final class QueueWaiter: Sendable, Hashable {
    private let report: @Sendable (String) -> Bool

    /// - Parameter report: shows a line to the program; false once the program is gone.
    public init(report: @escaping @Sendable (String) -> Bool) { self.report = report }

    /// Tells the program `line`; false when it is gone and the wait should end.
    public func tell(_ line: String) -> Bool { report(line) }

    public static func == (a: QueueWaiter, b: QueueWaiter) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
