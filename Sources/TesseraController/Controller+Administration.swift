import Foundation
import Prometheus
import TesseraPoolAPI

extension Controller {
    /// Runs an allocation (a lease or a reservation): records how long it took to be granted and durable, or
    /// counts the refusal and puts it in the event feed with its reason.
    public func allocating<R: Sendable>(_ what: String, _ body: (inout PoolState, Double) throws(PoolError) -> (R, [PoolState.Change])) async throws -> R {
        let start = ContinuousClock.now
        do {
            let result = try await perform(body)
            allocationWait.record(ContinuousClock.now - start)
            return result
        } catch let error as PoolError {
            try? await perform { s, now in
                s.recordRefusal(error, of: what, now: now)
                return ((), [])
            }
            throw error
        }
    }

    /// Runs an administrator's action and writes it to the audit log with the same commit; a refused action
    /// (an unknown target, a missing lease) is written as refused.
    public func administer(action: String, target: String, caller: Caller,
                           _ body: (inout PoolState, Double) throws(PoolError) -> (AdminActionReply, [PoolState.Change])) async throws -> AdminActionReply {
        do {
            return try await perform { (s, now) throws(PoolError) in
                let (reply, changes) = try body(&s, now)
                let entry = AuditEntry(time: now, action: action, target: target, caller: caller.rawValue, outcome: "done", message: reply.message)
                return (reply, changes + s.audit(entry))
            }
        } catch let error as PoolError {
            await refused(action: action, target: target, caller: caller.rawValue, error)
            throw error
        }
    }

    /// Writes a refused administrator's action to the audit log.
    public func refused(action: String, target: String, caller: String, _ error: PoolError) async {
        logger.notice("refused \(action) \(target) by \(caller): \(error.message)")
        try? await perform { s, now in
            ((), s.audit(AuditEntry(time: now, action: action, target: target, caller: caller, outcome: "refused", message: error.message)))
        }
    }
}
