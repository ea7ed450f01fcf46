/// How a vGPU's compute share applies on its physical GPU.
public enum ComputeMode: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Work-conserving: under contention device time follows the shares; idle time is lent to whoever has work.
    case share = 0
    /// Hard cap: never more than the share, even on an otherwise idle GPU.
    case limit = 1

    /// Parses `share` or `limit` (any case).
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "share": self = .share
        case "limit": self = .limit
        default: return nil
        }
    }

    public var description: String { self == .share ? "share" : "limit" }
}
