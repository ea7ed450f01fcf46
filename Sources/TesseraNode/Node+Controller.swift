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
}
