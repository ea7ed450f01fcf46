/// A vGPU's share of its physical GPU's compute time.
public struct ComputeQuota: Sendable, Hashable, CustomStringConvertible {
    /// How the share applies when others want the GPU, and when they do not.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Work-conserving: under contention device time follows the shares; idle time is lent to whoever has work.
        case share
        /// Hard cap: never more than the share, even on an otherwise idle GPU.
        case limit
    }

    /// Percent of the GPU's time, 1…100.
    public var percent: Int
    public var mode: Mode

    public init(percent: Int = 100, mode: Mode = .share) {
        self.percent = min(100, max(1, percent))
        self.mode = mode
    }

    /// The whole GPU, shared.
    public static let whole = ComputeQuota()

    public var description: String { "\(percent)% \(mode.rawValue)" }
}
