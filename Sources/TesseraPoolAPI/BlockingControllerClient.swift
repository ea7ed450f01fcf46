import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The controller's API for a node's session threads, which place a connecting program and must wait for the
/// controller's answer before they reply to it. Each call blocks its thread until the reply; never call it from
/// async code (use ``ControllerClient`` there).
public struct BlockingControllerClient: Sendable {
    public let client: ControllerClient

    public init(_ client: ControllerClient) { self.client = client }

    public var baseURL: String { client.baseURL }

    public func get<T: Decodable>(_ path: String, as type: T.Type = T.self) throws(PoolError) -> T {
        try client.decode(send("GET", path, body: nil))
    }

    public func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) throws(PoolError) -> T {
        try client.decode(send("POST", path, body: client.encode(body)))
    }

    public func put<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) throws(PoolError) -> T {
        try client.decode(send("PUT", path, body: client.encode(body)))
    }

    public func delete(_ path: String) throws(PoolError) {
        _ = try send("DELETE", path, body: nil)
    }

    private func send(_ method: String, _ path: String, body: Data?) throws(PoolError) -> Data {
        let urlRequest = try client.request(method, path, body: body)
        let reply: HTTPTransport.Reply
        do { reply = try HTTPTransport.sendWaiting(urlRequest, caFile: client.caFile) } catch { throw client.unreachable(error) }
        return try client.content(of: reply, path)
    }
}
