import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TesseraPool

/// An asynchronous client of the controller's HTTP API for the scheduler extender, whose bind handlers must not
/// block the server's threads (``PoolClient`` blocks, which suits node session threads and the CLI). Errors
/// come back as ``KubernetesError`` carrying the controller's message.
public struct ControllerClient: Sendable {
    /// The controller's base URL, e.g. `http://tessera-controller:7080`.
    public let baseURL: String
    private let token: Token
    private let session: URLSession

    enum Token: Sendable {
        case fixed(String)
        /// Re-read for every request, so a rotated secret takes effect without a restart.
        case file(String)
    }

    /// A client sending `token`.
    public init(baseURL: String, token: String, timeoutSeconds: Double = 10) {
        self.init(baseURL: baseURL, token: .fixed(token), timeoutSeconds: timeoutSeconds)
    }

    /// A client reading its token from the first line of `tokenFile` for every request.
    public init(baseURL: String, tokenFile: String, timeoutSeconds: Double = 10) {
        self.init(baseURL: baseURL, token: .file(tokenFile), timeoutSeconds: timeoutSeconds)
    }

    private init(baseURL: String, token: Token, timeoutSeconds: Double) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
    }

    public func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(KubernetesError) -> T {
        try decode(try await send("GET", path, body: nil), path)
    }

    public func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) async throws(KubernetesError) -> T {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch {
            throw KubernetesError(.invalidRequest, "cannot encode the request to \(path): \(error)")
        }
        return try decode(try await send("POST", path, body: data), path)
    }

    public func delete(_ path: String) async throws(KubernetesError) {
        _ = try await send("DELETE", path, body: nil)
    }

    private func decode<T: Decodable>(_ data: Data, _ path: String) throws(KubernetesError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw KubernetesError(.upstream, "controller at \(baseURL) answered \(path) with an unexpected document: \(error)")
        }
    }

    private func bearer() throws(KubernetesError) -> String {
        switch token {
        case .fixed(let value): return value
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let line = text.split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces), !line.isEmpty
            else { throw KubernetesError(.upstream, "cannot read the controller token from \(path)") }
            return line
        }
    }

    /// One request; the body on 2xx, else the controller's error mapped to a ``KubernetesError``.
    private func send(_ method: String, _ path: String, body: Data?) async throws(KubernetesError) -> Data {
        guard let url = URL(string: baseURL + path) else { throw KubernetesError(.invalidRequest, "bad controller URL \(baseURL + path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(try bearer())", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw KubernetesError(.upstream, "cannot reach the controller at \(baseURL): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if (200..<300).contains(status) { return data }
        guard let reply = try? JSONDecoder().decode(APIErrorBody.self, from: data) else {
            throw KubernetesError(.upstream, "controller at \(baseURL) answered \(method) \(path) with HTTP \(status)")
        }
        let code: KubernetesError.Code = switch PoolError.Code(rawValue: reply.code) {
        case .notFound: .notFound
        case .conflict, .unavailable: .conflict
        case .invalidRequest: .invalidRequest
        default: .upstream
        }
        throw KubernetesError(code, reply.message)
    }
}
