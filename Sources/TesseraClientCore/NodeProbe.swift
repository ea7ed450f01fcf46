#if canImport(Glibc)
import Glibc
#endif
import TesseraWire

/// One status question to a node, without opening a session (holds no vGPUs): what `tessera run` asks before
/// it starts a program, to learn what kind of GPUs will serve it.
package enum NodeProbe {
    /// The node's GPUs and sessions, or nil when the node cannot be reached or does not answer.
    package static func status(of endpoint: String) -> NodeStatusReply? {
        guard case .success(let connection) = Connection.connect(to: endpoint) else { return nil }
        defer { connection.close() }
        guard case .done(let header, let reply?, _) = connection.call(NodeStatusRequest(), { (r) throws(WireError) in
            try NodeStatusReply(from: &r)
        }), header.status.isOK else { return nil }
        return reply
    }
}
