/// What a pool controller needs of a node beyond ``Node/status()``.
extension Node {
    /// Ends a session from outside (its lease ended in the pool): its kernels stop and its memory is freed.
    /// Returns whether such a session existed.
    @discardableResult
    public func endSession(id: UInt64) -> Bool {
        guard let session = state.withLock({ $0.sessions[id] }) else { return false }
        NodeThread.start { session.abort() }
        return true
    }

    /// Every connected session, greeted or not (a session being placed has a lease before it holds vGPUs).
    public func sessionIDs() -> Set<UInt64> {
        state.withLock { Set($0.sessions.keys) }
    }
}

extension Node {
    /// Fraction of the last second each physical GPU was busy with sessions' work (0…1 and more when
    /// oversubscribed), summed over the contexts on it, as each backend's contexts measure it.
    public func utilization() -> [Int: Double] {
        let sessions = state.withLock { Array($0.sessions.values) }
        var busy: [Int: Double] = [:]
        for session in sessions {
            for (gpu, context) in session.shared.withLock({ $0.vgpus.map { ($0.physical, $0.context) } }) {
                busy[gpu, default: 0] += context.utilization
            }
        }
        return busy
    }
}
