/// Counts failed authentications per peer host in fixed windows: a host that failed `limit` times within a
/// window is refused without a check until the window ends, so guessing tokens or attach secrets over TCP
/// costs at most `limit` tries per window (and the controller sees no more than that).
struct AuthenticationLimiter {
    let limit: Int
    let window: Double
    private var failures: [String: (count: Int, since: Double)] = [:]

    init(limit: Int, window: Double) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until `host` may try again, or nil when it may try now.
    mutating func blocked(_ host: String, now: Double) -> Double? {
        guard let f = failures[host] else { return nil }
        if now - f.since >= window { failures[host] = nil; return nil }
        return f.count >= limit ? window - (now - f.since) : nil
    }

    mutating func failed(_ host: String, now: Double) {
        if let f = failures[host], now - f.since < window {
            failures[host] = (f.count + 1, f.since)
        } else {
            failures[host] = (1, now)
        }
        // Bounded memory under a flood of addresses: forget the stale windows.
        if failures.count > 4096 { failures = failures.filter { now - $0.value.since < window } }
    }
}
