#if canImport(Glibc)
import Glibc
#endif
import TesseraNode
import TesseraPoolAPI

extension ControllerPlacement {
    /// Asks for a lease that may wait up to `seconds` in its group's queue: tells the program its position
    /// whenever it changes, and leaves the queue when the time is up or the program went away. The controller
    /// grants the head of the queue itself when room frees; this only collects the grant (long polls, so the
    /// program hears of it within milliseconds).
    func waitInQueue(_ request: LeaseRequest, seconds: Double, waiter: QueueWaiter?) throws(PlacementError) -> Lease {
        var entry: QueueEntry
        do throws(PoolError) {
            entry = try client.blocking.post("/v1/queue", QueueRequest(lease: request, waitSeconds: seconds))
        } catch {
            throw PlacementError("the pool refused: \(error.message)")
        }
        var told = -1
        while true {
            if entry.state == .granted, let lease = entry.lease { return lease }
            if entry.position != told {
                told = entry.position
                let group = entry.group.isEmpty ? "the pool's queue" : "group \(entry.group)'s queue"
                let line = "waiting for vGPUs: position \(entry.position) in \(group) (\(entry.reason))"
                if waiter?.tell(line) == false { return try leave(entry, "the program went away while waiting") }
            } else if waiter?.tell("") == false {
                return try leave(entry, "the program went away while waiting")
            }
            do throws(PoolError) {
                entry = try client.blocking.get("/v1/queue/\(entry.id)?wait=0.5")
            } catch where error.code == .transport {
                // The controller may be restarting; the entry lapses there unless asked for again soon.
                usleep(200_000)
            } catch {
                throw PlacementError("the pool refused: \(error.message)")
            }
        }
    }

    private func leave(_ entry: QueueEntry, _ why: String) throws(PlacementError) -> Lease {
        try? client.blocking.delete("/v1/queue/\(entry.id)")
        throw PlacementError(why)
    }

    /// The user name of `uid N` on this node, for groups that name their members; nil when unknown.
    static func userName(owner: String) -> String? {
        guard owner.hasPrefix("uid "), let uid = uid_t(owner.dropFirst(4)) else { return nil }
        var record = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &record, &buffer, buffer.count, &result) == 0, let found = result, let name = found.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
