extension String {
    /// The text a C function wrote into `buffer`, up to its first NUL (all of it when there is none): the error
    /// messages of the TLS layer and of the C library, decoded as UTF-8 with invalid bytes repaired.
    public init(nulTerminated buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
