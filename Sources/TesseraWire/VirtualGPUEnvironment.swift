/// The contract between `tessera run` (or a container, or a notebook) and the runtime: environment variables
/// that say where the node is and which vGPUs to ask for. The runtime reads them at the first CUDA call.
public enum VirtualGPUEnvironment {
    /// Node endpoint: a unix socket path (contains "/") or `HOST:PORT` for TCP.
    public static let endpoint = "TESSERA_ENDPOINT"
    /// Number of vGPUs (default 1).
    public static let virtualGPUs = "TESSERA_VGPUS"
    /// Memory of each vGPU, e.g. `512MiB`, `2GiB`; a bare number means MiB (default 1 GiB).
    public static let memory = "TESSERA_MEMORY"
    /// Compute share of each vGPU in percent, 1…100; unset or 0 is best effort (no share reserved, idle time
    /// only, never refused for compute).
    public static let compute = "TESSERA_COMPUTE"
    /// How the compute share applies: `share` (default; idle time is lent out) or `limit` (hard cap).
    public static let computeMode = "TESSERA_COMPUTE_MODE"
    /// `debug` makes the runtime log every connection step to stderr.
    public static let log = "TESSERA_LOG"
    /// A user token from the pool's controller (`tessera tokens create`), presented to nodes reached over TCP.
    public static let token = "TESSERA_TOKEN"

    public static let defaultEndpoint = "/tmp/tessera/node.sock"
    public static let defaultVirtualGPUs = 1
    public static let defaultMemoryBytes = 1 << 30
    public static let defaultComputePercent = 0
    /// Seconds a program may wait in its group's queue for room before it is refused (default 0: no wait).
    public static let wait = "TESSERA_WAIT"

    /// Parses a memory size with a binary unit (`MiB`, `GiB`, `TiB`; `M`, `MB`, `G`, `GB`, `T`, `TB` mean the
    /// same) or none (MiB). Fractions are allowed when the result is a whole number of MiB.
    /// Returns bytes, or nil for anything else (including zero and sizes not a multiple of 1 MiB).
    public static func parseSize(_ text: String) -> Int? {
        let t = text.filter { $0 != " " && $0 != "_" }
        let digitsEnd = t.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? t.endIndex
        let number = t[..<digitsEnd], unit = t[digitsEnd...].lowercased()
        let shift: Int
        switch unit {
        case "", "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        case "k", "kb", "kib": shift = 10
        case "b": shift = 0
        default: return nil
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, let whole = Int(parts[0].isEmpty ? "0" : String(parts[0])) else { return nil }
        var bytes = whole << shift
        guard bytes >> shift == whole else { return nil }
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 9, let frac = Int(digits) else { return nil }
            var scale = 1
            for _ in 0..<digits.count { scale *= 10 }
            let numerator = frac << shift
            guard numerator % scale == 0 else { return nil }
            bytes += numerator / scale
        }
        guard bytes > 0, bytes % (1 << 20) == 0 else { return nil }
        return bytes
    }

    /// A size as people write it: whole GiB as `NGiB`, otherwise `NMiB`.
    public static func formatSize(_ bytes: Int) -> String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)GiB" : "\(bytes >> 20)MiB"
    }
}
