import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The HTTP sending shared by the pool's clients (the controller API's and the Kubernetes API's): one
/// URLSession for the process, each request with its own timeout, sent asynchronously or, for threads that
/// may block, waiting for URLSession's callback (which runs on URLSession's own queue, never on Swift
/// concurrency's pool, so a waiting thread cannot starve the reply).
public enum HTTPTransport {
    /// An HTTP reply of any status.
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public init(status: Int, body: Data) { self.status = status; self.body = body }
        /// A 2xx status.
        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// The request got no HTTP reply: the server could not be reached, timed out or the request was cancelled.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 16
        return URLSession(configuration: configuration)
    }()

    /// A request for `method` on `url`, with `body` as JSON when given.
    public static func request(_ method: String, _ url: URL, body: Data?, timeoutSeconds: Double,
                               headers: [String: String] = [:]) -> URLRequest {
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return request
    }

    /// Sends `request` and returns the reply, whatever its status. With `caFile`, an `https` URL's server must
    /// present a certificate that bundle signed for the dialled host (the pool's own CA); without it, the
    /// system's trust store applies.
    public static func send(_ request: URLRequest, caFile: String?) async throws(Failure) -> Reply {
        if let caFile, request.url?.scheme?.lowercased() == "https" {
            do { return try await PrivateCAHTTPS.send(request, caFile: caFile).get() } catch { throw Failure("\(error)") }
        }
        return try await send(request)
    }

    /// Sends `request` and returns the reply, whatever its status.
    public static func send(_ request: URLRequest) async throws(Failure) -> Reply {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw Failure(error.localizedDescription)
        }
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Sends `request` and blocks the calling thread until the reply. Only for threads that may block (a node's
    /// session threads); async code uses ``send(_:)``.
    public static func sendWaiting(_ request: URLRequest, caFile: String? = nil) throws(Failure) -> Reply {
        if let caFile, request.url?.scheme?.lowercased() == "https" {
            // Completed on an event loop thread, never the calling one: waiting here cannot deadlock.
            do { return try PrivateCAHTTPS.send(request, caFile: caFile).wait() } catch { throw Failure("\(error)") }
        }
        let box = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            box.value = error.map { .failure(Failure($0.localizedDescription)) } ?? .success(
                Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data()))
            done.signal()
        }.resume()
        done.wait()
        return try box.value.get()
    }
}

/// The reply handed from URLSession's callback to the waiting thread.
private final class ReplyBox: @unchecked Sendable {
    // Written once by the callback before the semaphore is signalled, read only after the wait.
    var value: Result<HTTPTransport.Reply, HTTPTransport.Failure> = .failure(HTTPTransport.Failure("no reply"))
}
