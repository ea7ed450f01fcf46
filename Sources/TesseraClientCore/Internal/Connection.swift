#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import TesseraWire

/// The runtime's end of the session with the node. Pipelined requests collect in a buffer that goes out in one
/// write when it fills or when a synchronous call needs the node, so a stream of launches costs a fraction of
/// a system call each; a synchronous call is exactly one round trip. Callers hold the runtime's lock.
package final class Connection {
    package let fd: Int32
    /// A unix socket on this machine: host memory can be shared with the node.
    package let isLocal: Bool
    /// The TLS session over `fd` (an `SSL *` of the system's OpenSSL), for TCP connections when `TESSERA_CA`
    /// names the pool's CA bundle.
    private let tls: UnsafeMutableRawPointer?
    private var out = WireWriter(capacity: 256 << 10)
    private var frames = FrameBuffer(maxBody: WireProtocol.maxReplyBody, initialCapacity: 256 << 10)
    private var nextRequestID: UInt64 = 1
    /// Set when the connection failed; every later request fails with it.
    private(set) var failure: String?
    /// Told when pipelined requests start waiting in the buffer.
    package var onBuffered: (() -> Void)?
    /// How long pipelined requests have waited, for the flusher (which reads it without the runtime lock).
    package let bufferAge = PipelineFlusher.BufferAge()

    /// The id of the most recent request (to collect the further frames of its reply).
    package var lastRequestID: UInt64 { nextRequestID &- 1 }

    /// Pipelined bytes above this go out at once.
    private static let flushThreshold = 128 << 10

    package init(fd: Int32, isLocal: Bool, tls: UnsafeMutableRawPointer? = nil) {
        self.fd = fd
        self.isLocal = isLocal
        self.tls = tls
    }

    /// Closes the connection (and its TLS session).
    package func close() {
        if let tls { tessera_tls_free(tls) }
        _ = Glibc.close(fd)
    }

    /// The environment variable naming the pool's CA bundle (PEM): connections to nodes over TCP then use TLS
    /// and trust only node certificates it signed.
    package static let certificateAuthorityVariable = "TESSERA_CA"

    /// The TLS client context for `TESSERA_CA`, made once per process; nil when the variable is unset.
    nonisolated(unsafe) private static let tlsContext: Result<UnsafeMutableRawPointer, ConnectionError>? = {
        guard let ca = getenv(Connection.certificateAuthorityVariable).map({ String(cString: $0) }), !ca.isEmpty else { return nil }
        var err = [CChar](repeating: 0, count: 512)
        guard let ctx = tessera_tls_client_context(ca, &err, err.count) else {
            return .failure(ConnectionError("\(Connection.certificateAuthorityVariable)=\(ca): \(String(nulTerminated: err))"))
        }
        return .success(ctx)
    }()

    /// Connects to a unix socket path or `HOST:PORT`.
    package static func connect(to endpoint: String) -> Result<Connection, ConnectionError> {
        if endpoint.contains("/") {
            let fd = tessera_connect_unix(endpoint)
            guard fd >= 0 else { return .failure(ConnectionError("cannot reach the Tessera node at \(endpoint): \(String(cString: strerror(errno)))")) }
            return .success(Connection(fd: fd, isLocal: true))
        }
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int32(endpoint[endpoint.index(after: colon)...]) else {
            return .failure(ConnectionError("endpoint '\(endpoint)' is neither a socket path nor HOST:PORT"))
        }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let fd = tessera_connect_tcp(host, port)
        guard fd >= 0 else { return .failure(ConnectionError("cannot reach the Tessera node at \(endpoint)")) }
        switch tlsContext {
        case nil:
            return .success(Connection(fd: fd, isLocal: false))
        case .failure(let e)?:
            _ = Glibc.close(fd)
            return .failure(e)
        case .success(let ctx)?:
            var err = [CChar](repeating: 0, count: 512)
            guard let ssl = tessera_tls_connect(ctx, fd, host, &err, err.count) else {
                _ = Glibc.close(fd)
                return .failure(ConnectionError("cannot reach the Tessera node at \(endpoint) over TLS: \(String(nulTerminated: err))"))
            }
            return .success(Connection(fd: fd, isLocal: false, tls: ssl))
        }
    }

    // MARK: Pipelined requests

    /// Queues a request that gets no reply.
    @inline(__always)
    package func post<M: WireMessage>(_ message: M) {
        let wasEmpty = out.count == 0
        out.frame(message, requestID: takeID())
        queued(wasEmpty)
    }

    @inline(__always)
    private func queued(_ wasEmpty: Bool) {
        if out.count >= Self.flushThreshold {
            _ = flush()
        } else if wasEmpty {
            bufferAge.markBuffered()
            onBuffered?()
        }
    }

    /// Whether pipelined requests wait in the buffer.
    package var hasBuffered: Bool { out.count > 0 }

    /// Queues a request whose body `body` writes (fixed fields plus a small trailing payload).
    @inline(__always)
    package func post(_ opcode: Opcode, body: (inout WireWriter) -> Void) {
        let wasEmpty = out.count == 0
        out.frame(opcode, requestID: takeID(), body: body)
        queued(wasEmpty)
    }

    /// Sends a request with a large trailing payload straight from the caller's memory (pipelined).
    package func post<M: WireMessage>(_ message: M, payload: UnsafeRawBufferPointer) -> Bool {
        appendHeader(message, payloadCount: payload.count, flags: [])
        return flush() && writeAll(payload)
    }

    /// Writes every queued request now.
    @discardableResult
    package func flush() -> Bool {
        guard out.count > 0 else { return failure == nil }
        let ok = out.bytes.withUnsafeBytes { writeAll($0) }
        out.reset()
        bufferAge.markEmpty()
        return ok
    }

    // MARK: Synchronous requests

    /// Sends a request (with queued pipelined ones ahead of it) and waits for its reply; `read` decodes the
    /// reply's fields. A payload is sent from the caller's memory; a descriptor travels as SCM_RIGHTS.
    package func call<M: WireMessage, T>(
        _ message: M, payload: UnsafeRawBufferPointer? = nil, passing descriptor: Int32 = -1,
        _ read: (inout WireReader) throws(WireError) -> T
    ) -> Reply<T> {
        let id = appendHeader(message, payloadCount: payload?.count ?? 0, flags: .replyExpected)
        var sent: Bool
        if descriptor >= 0 {
            sent = out.bytes.withUnsafeBytes { b in
                let n = tessera_send_with_fd(fd, b.baseAddress, b.count, descriptor)
                return n >= 0 && (n == b.count || writeAll(UnsafeRawBufferPointer(rebasing: b[n...])))
            }
            out.reset()
            bufferAge.markEmpty()
            if !sent { fail("lost the connection to the Tessera node") }
        } else {
            sent = flush()
        }
        if sent, let payload, payload.count > 0 { sent = writeAll(payload) }
        guard sent else { return .failed(failure ?? "connection lost") }
        return receive(id, read)
    }

    /// Waits for the reply frame(s) of request `id`. For multi-frame replies call ``receiveMore(_:_:)`` while
    /// the returned reply says more follow.
    package func receive<T>(_ id: UInt64, _ read: (inout WireReader) throws(WireError) -> T) -> Reply<T> {
        while true {
            do throws(WireError) {
                if let (header, body) = try frames.nextFrame() {
                    var r = WireReader(body)
                    switch header.opcode {
                    case .fatal:
                        let why = (try? ReplyStatus(from: &r))?.description ?? "unknown reason"
                        fail("the Tessera node ended the session: \(why)")
                        return .failed(failure!)
                    case .deviceOutput:
                        // Kernels' printf and assert output at a synchronisation point, ahead of its reply.
                        DeviceOutputSink.deliver(try DeviceOutput(from: &r))
                        continue
                    case .reply where header.requestID == id:
                        let h = try ReplyHeader(from: &r)
                        let more = header.flags.contains(.moreFollows)
                        guard h.status.isOK else { return .done(h, nil, more: more) }
                        return .done(h, try read(&r), more: more)
                    default:
                        throw WireError(.unexpected, "reply for request \(header.requestID) while waiting for \(id)")
                    }
                }
                let space = frames.writableSpace(minimum: max(64 << 10, try frames.bytesNeeded()))
                var n: Int
                if let tls {
                    n = tessera_tls_read(tls, space.baseAddress, space.count)
                } else {
                    repeat { n = Glibc.read(fd, space.baseAddress, space.count) } while n < 0 && errno == EINTR
                }
                guard n > 0 else {
                    fail("lost the connection to the Tessera node")
                    return .failed(failure!)
                }
                frames.commit(n)
            } catch {
                fail("protocol error from the Tessera node: \(error)")
                return .failed(failure!)
            }
        }
    }

    // MARK: Plumbing

    @inline(__always)
    private func takeID() -> UInt64 {
        defer { nextRequestID &+= 1 }
        return nextRequestID
    }

    /// Appends a frame header and `message`'s fields, announcing `payloadCount` more body bytes.
    @discardableResult
    private func appendHeader<M: WireMessage>(_ message: M, payloadCount: Int, flags: FrameFlags) -> UInt64 {
        let id = takeID()
        let start = out.count
        out.frame(M.opcode, flags: flags, requestID: id) { message.encode(into: &$0) }
        if payloadCount > 0 {
            let bodyLength = out.count - start - WireProtocol.headerSize + payloadCount
            var header = [UInt8](repeating: 0, count: WireProtocol.headerSize)
            header.withUnsafeMutableBytes {
                FrameHeader(opcode: M.opcode, flags: flags, bodyLength: bodyLength, requestID: id).encode(to: $0.baseAddress!)
            }
            out.patch(at: start, with: header)
        }
        return id
    }

    private func writeAll(_ b: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        var offset = 0
        while offset < b.count {
            let n = tls.map { tessera_tls_write($0, b.baseAddress! + offset, b.count - offset) }
                ?? send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR && tls == nil { continue }
            if n <= 0 {
                fail("lost the connection to the Tessera node")
                return false
            }
            offset += n
        }
        return true
    }

    private func fail(_ why: String) {
        if failure == nil {
            failure = why
            Log.error(why)
        }
    }
}

/// The outcome of a synchronous request.
package enum Reply<T> {
    /// The node answered: its status header and, when the status is ok, the decoded fields.
    case done(ReplyHeader, T?, more: Bool)
    /// No answer: the connection failed.
    case failed(String)
}

package struct ConnectionError: Error {
    package var message: String
    package init(_ m: String) { message = m }
}
