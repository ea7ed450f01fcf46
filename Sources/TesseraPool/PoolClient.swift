import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A blocking HTTP client of the controller's API, for the CLI and for node daemons (whose session threads
/// block anyway). Errors come back as ``PoolError`` with the controller's code and message.
public struct PoolClient: Sendable {
    /// The controller's base URL, e.g. `http://127.0.0.1:7080`.
    public let baseURL: String
    public let token: String
    public let timeout: Double

    public init(baseURL: String, token: String, timeout: Double = 10) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.timeout = timeout
    }

    public func get<T: Decodable>(_ path: String, as type: T.Type = T.self) throws(PoolError) -> T {
        try decode(send("GET", path, body: nil))
    }

    public func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) throws(PoolError) -> T {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw PoolError(.invalidRequest, "cannot encode request: \(error)") }
        return try decode(send("POST", path, body: data))
    }

    public func delete(_ path: String) throws(PoolError) {
        _ = try send("DELETE", path, body: nil)
    }

    private func decode<T: Decodable>(_ data: Data) throws(PoolError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw PoolError(.transport, "controller at \(baseURL) answered an unexpected document: \(error)")
        }
    }

    /// One request; the reply body on 2xx, else the controller's error.
    public func send(_ method: String, _ path: String, body: Data?) throws(PoolError) -> Data {
        guard let url = URL(string: baseURL + path) else { throw PoolError(.invalidRequest, "bad controller URL \(baseURL)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let box = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            box.set(data, response as? HTTPURLResponse, error)
            done.signal()
        }
        task.resume()
        done.wait()
        let (data, response, error) = box.get()
        if let error { throw PoolError(.transport, "cannot reach the controller at \(baseURL): \(error.localizedDescription)") }
        guard let response else { throw PoolError(.transport, "no reply from the controller at \(baseURL)") }
        let payload = data ?? Data()
        if (200..<300).contains(response.statusCode) { return payload }
        if let e = try? JSONDecoder().decode(APIErrorBody.self, from: payload) {
            throw PoolError(PoolError.Code(rawValue: e.code), e.message)
        }
        throw PoolError(.transport, "controller at \(baseURL) answered HTTP \(response.statusCode)")
    }
}

private final class ReplyBox: @unchecked Sendable {
    // Written once by URLSession's callback before the semaphore is signalled, read after the wait.
    private var value: (Data?, HTTPURLResponse?, (any Error)?) = (nil, nil, nil)
    func set(_ d: Data?, _ r: HTTPURLResponse?, _ e: (any Error)?) { value = (d, r, e) }
    func get() -> (Data?, HTTPURLResponse?, (any Error)?) { value }
}
