import TesseraPlacement
import TesseraPoolAPI

/// How the controller chooses GPUs for vGPUs: the ``TesseraPlacement`` engine under one of its policies
/// (`tessera`, the fragmentation-aware default; `binpack`; `fgd`; …), or `spread`, which puts each vGPU on the
/// fitting node with the most free compute.
public enum PlacementStrategy: Sendable, Hashable, CustomStringConvertible {
    case engine(ScoringPolicy)
    case spread

    /// Parses `spread`, `binpack` (the engine's best-fit) or any engine policy name.
    public init(name: String) throws(PoolError) {
        switch name.lowercased() {
        case "spread": self = .spread
        case "binpack", "bin-pack": self = .engine(.bestFit)
        default:
            do throws(PlacementEngineError) {
                self = .engine(try ScoringPolicy(name: name))
            } catch {
                throw PoolError(.invalidRequest, error.message + ", spread, binpack")
            }
        }
    }

    public var description: String {
        switch self {
        case .spread: "spread"
        case .engine(.bestFit): "binpack"
        case .engine(let p): p.rawValue
        }
    }

    /// The engine policy that scores candidates (spread scores with best-fit, then overrides the node choice).
    var enginePolicy: ScoringPolicy {
        switch self {
        case .spread: .bestFit
        case .engine(let p): p
        }
    }
}
