import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The client of the controller's HTTP API (docs/openapi.yaml), for the CLI, node agents and the scheduler
/// extender. Asynchronous; a node's session threads, which must wait for the answer, use ``blocking``.
/// Errors come back as ``PoolError`` with the controller's code and message (``PoolError/Code/transport`` when
/// there was no usable answer).
public struct ControllerClient: Sendable {
    /// The controller's base URL, e.g. `http://127.0.0.1:7080`.
    public let baseURL: String
    public let timeoutSeconds: Double
    /// The CA bundle an `https` controller's certificate must chain to (the pool CA's `ca.pem`); nil trusts the
    /// system's store. Defaults to `TESSERA_CA`.
    public let caFile: String?
    private let token: Token

    /// `TESSERA_CA` of this process: the pool's CA bundle, when set.
    public static var environmentCAFile: String? {
        ProcessInfo.processInfo.environment["TESSERA_CA"].flatMap { $0.isEmpty ? nil : $0 }
    }

    enum Token: Sendable {
        case fixed(String)
        /// Re-read for every request, so a rotated secret takes effect without a restart.
        case file(String)
    }

    /// A client sending `token`.
    public init(baseURL: String, token: String, timeoutSeconds: Double = 10, caFile: String? = ControllerClient.environmentCAFile) {
        self.init(baseURL: baseURL, token: .fixed(token), timeoutSeconds: timeoutSeconds, caFile: caFile)
    }

    /// A client reading its token from the first line of `tokenFile` for every request.
    public init(baseURL: String, tokenFile: String, timeoutSeconds: Double = 10, caFile: String? = ControllerClient.environmentCAFile) {
        self.init(baseURL: baseURL, token: .file(tokenFile), timeoutSeconds: timeoutSeconds, caFile: caFile)
    }

    private init(baseURL: String, token: Token, timeoutSeconds: Double, caFile: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.timeoutSeconds = timeoutSeconds
        self.caFile = caFile
    }

    public func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(PoolError) -> T {
        try decode(try await send("GET", path, body: nil))
    }

    public func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) async throws(PoolError) -> T {
        try decode(try await send("POST", path, body: encode(body)))
    }

    public func put<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) async throws(PoolError) -> T {
        try decode(try await send("PUT", path, body: encode(body)))
    }

    public func delete(_ path: String) async throws(PoolError) {
        _ = try await send("DELETE", path, body: nil)
    }

    /// A DELETE whose reply carries a document (revoking a token returns it).
    public func deleteReturning<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(PoolError) -> T {
        try decode(try await send("DELETE", path, body: nil))
    }

    /// One request; the reply body on 2xx, else the controller's error.
    func send(_ method: String, _ path: String, body: Data?) async throws(PoolError) -> Data {
        let urlRequest = try request(method, path, body: body)
        let reply: HTTPTransport.Reply
        do { reply = try await HTTPTransport.send(urlRequest, caFile: caFile) } catch { throw unreachable(error) }
        return try content(of: reply, path)
    }

    /// The same API for threads that may block (see ``BlockingControllerClient``).
    public var blocking: BlockingControllerClient { BlockingControllerClient(self) }

    // MARK: Shared by both faces

    func encode(_ body: some Encodable) throws(PoolError) -> Data {
        do { return try JSONEncoder().encode(body) } catch { throw PoolError(.invalidRequest, "cannot encode request: \(error)") }
    }

    func decode<T: Decodable>(_ data: Data) throws(PoolError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw PoolError(.transport, "controller at \(baseURL) answered an unexpected document: \(error)")
        }
    }

    func request(_ method: String, _ path: String, body: Data?) throws(PoolError) -> URLRequest {
        guard let url = URL(string: baseURL + path) else { throw PoolError(.invalidRequest, "bad controller URL \(baseURL + path)") }
        return HTTPTransport.request(method, url, body: body, timeoutSeconds: timeoutSeconds,
                                     headers: ["Authorization": "Bearer \(try bearer())"])
    }

    func unreachable(_ failure: HTTPTransport.Failure) -> PoolError {
        PoolError(.transport, "cannot reach the controller at \(baseURL): \(failure.message)")
    }

    /// The body of a 2xx reply, else the controller's error.
    func content(of reply: HTTPTransport.Reply, _ path: String) throws(PoolError) -> Data {
        if reply.isSuccess { return reply.body }
        if let e = try? JSONDecoder().decode(APIErrorBody.self, from: reply.body) {
            throw PoolError(PoolError.Code(rawValue: e.code), e.message)
        }
        throw PoolError(.transport, "controller at \(baseURL) answered \(path) with HTTP \(reply.status)")
    }

    private func bearer() throws(PoolError) -> String {
        switch token {
        case .fixed(let value): return value
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let line = text.split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces), !line.isEmpty
            else { throw PoolError(.transport, "cannot read the controller token from \(path)") }
            return line
        }
    }
}
