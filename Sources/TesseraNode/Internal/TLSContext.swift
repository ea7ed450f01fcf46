import CTesseraPOSIX

/// An OpenSSL server context (opaque), shared read-only by session threads once made.
final class TLSContext: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
    deinit { tessera_tls_context_free(pointer) }
}
