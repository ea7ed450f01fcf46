import TesseraPoolAPI

extension Controller {
    /// Throws unless a request naming node `name` may act for it: admins may; a node token may act only for the
    /// nodes that first used it (registration, or a restored node's first heartbeat). With one token per node
    /// (every token listed in `--node-token-file`), a node can neither heartbeat, take leases, attach programs
    /// nor end leases as another node; nodes sharing a token share this right.
    func admitNode(_ name: String, _ context: ControllerRequestContext) throws(PoolError) {
        guard context.caller == .node else { return }
        guard let credential = context.credential else { throw PoolError(.unauthorized, "missing node token") }
        try nodeCredentials.withLock { (owners) throws(PoolError) in
            if let owner = owners[name] {
                guard owner == credential else {
                    throw PoolError(.unauthorized, "node \(name) registered with another node token; this token may act only for its own nodes")
                }
            } else {
                owners[name] = credential
            }
        }
    }
}
