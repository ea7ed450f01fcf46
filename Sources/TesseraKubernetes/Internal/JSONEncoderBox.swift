import Foundation

/// Foundation's encoder, for the responses that are not written by hand.
enum JSONEncoderBox {
    static func encode(_ value: some Encodable) throws -> Data { try JSONEncoder().encode(value) }
}
