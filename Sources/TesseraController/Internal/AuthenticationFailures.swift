import Foundation
import Synchronization

/// Failed bearer-token checks per client host in fixed windows: a host that failed `limit` times within a
/// window gets 429 without a check until the window ends, so guessing tokens costs at most `limit` tries per
/// window.
final class AuthenticationFailures: Sendable {
    let limit: Int
    let window: Double
    private let failures = Mutex<[String: (count: Int, since: Double)]>([:])

    init(limit: Int = 20, window: Double = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until `host` may try again, or nil when it may try now.
    func blocked(_ host: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Double? {
        failures.withLock { f -> Double? in
            guard let entry = f[host] else { return nil }
            if now - entry.since >= window { f[host] = nil; return nil }
            return entry.count >= limit ? window - (now - entry.since) : nil
        }
    }

    func failed(_ host: String, now: Double = ProcessInfo.processInfo.systemUptime) {
        failures.withLock { f in
            if let entry = f[host], now - entry.since < window {
                f[host] = (entry.count + 1, entry.since)
            } else {
                f[host] = (1, now)
            }
            if f.count > 4096 { f = f.filter { now - $0.value.since < window } }
        }
    }
}
