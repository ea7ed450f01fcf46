import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// HTTPS to a server whose certificate the pool's own CA signed. URLSession on Linux (libcurl) trusts only the
/// system's store and has no per-session CA, so requests verified against a CA bundle go through NIO with
/// NIOSSL instead: one connection per request (`Connection: close`), the server's certificate checked
/// against the bundle and against the dialled host name or IP address.
enum PrivateCAHTTPS {
    private static let contexts = Mutex<[String: NIOSSLContext]>([:])

    /// The client context trusting only `caFile`, made once per file.
    static func context(caFile: String) throws -> NIOSSLContext {
        try contexts.withLock { c in
            if let context = c[caFile] { return context }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(caFile)
            configuration.minimumTLSVersion = .tlsv12
            let context = try NIOSSLContext(configuration: configuration)
            c[caFile] = context
            return context
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `request`; the future completes with the reply of any status, or fails without one.
    static func send(_ request: URLRequest, caFile: String) -> EventLoopFuture<HTTPTransport.Reply> {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: HTTPTransport.Reply.self)
        guard let url = request.url, let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let named = components.host, !named.isEmpty else {
            promise.fail(Failure(description: "bad URL \(request.url?.absoluteString ?? "")"))
            return promise.futureResult
        }
        let host = named.hasPrefix("[") && named.hasSuffix("]") ? String(named.dropFirst().dropLast()) : named
        let port = components.port ?? 443
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = components.percentEncodedQuery.map { path + "?" + $0 } ?? path
        let context: NIOSSLContext
        do { context = try Self.context(caFile: caFile) } catch {
            promise.fail(Failure(description: "cannot use the CA bundle \(caFile): \(error)"))
            return promise.futureResult
        }
        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        let timeout = TimeAmount.milliseconds(Int64(max(0.1, request.timeoutInterval) * 1000))
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // An IP address is checked against the certificate's IP names (no SNI for addresses).
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : host))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ReplyCollector(promise: promise, caFile: caFile))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(Failure(description: "cannot connect to \(host):\(port): \(error)"))
                case .success(let channel):
                    let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                        promise.fail(Failure(description: "no reply from \(host):\(port) within \(request.timeoutInterval) s"))
                        channel.close(promise: nil)
                    }
                    promise.futureResult.whenComplete { _ in
                        deadline.cancel()
                        channel.close(promise: nil)
                    }
                    let body = request.httpBody ?? Data()
                    var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.httpMethod ?? "GET"), uri: target)
                    head.headers.add(name: "Host", value: components.port.map { "\(components.host!):\($0)" } ?? components.host!)
                    for (name, value) in request.allHTTPHeaderFields ?? [:] { head.headers.add(name: name, value: value) }
                    head.headers.add(name: "Content-Length", value: "\(body.count)")
                    head.headers.add(name: "Connection", value: "close")
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    if !body.isEmpty { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                }
            }
        return promise.futureResult
    }
}

/// Collects one response and completes the promise with it; a connection that fails or closes first fails it.
private final class ReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    // Used on the channel's event loop only.
    private let promise: EventLoopPromise<HTTPTransport.Reply>
    private let caFile: String
    private var status = 0
    private var body = Data()

    init(promise: EventLoopPromise<HTTPTransport.Reply>, caFile: String) { self.promise = promise; self.caFile = caFile }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(let buffer): body.append(contentsOf: buffer.readableBytesView)
        case .end: promise.succeed(HTTPTransport.Reply(status: status, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let why = error is NIOSSLError || error is BoringSSLError
            ? "TLS handshake failed (the server's certificate is not one the CA bundle \(caFile) signed for this address, or the server speaks no TLS): \(error)"
            : "HTTP failure: \(error)"
        promise.fail(PrivateCAHTTPS.Failure(description: why))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(PrivateCAHTTPS.Failure(description: "the server closed the connection without a reply"))
    }
}
