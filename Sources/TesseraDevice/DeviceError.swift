import TesseraWire

/// A failure of a device operation. Its code is the wire's status code, so a session reports it unchanged.
public struct DeviceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: ReplyStatus.Code
    public var message: String
    public init(_ code: ReplyStatus.Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
    public var status: ReplyStatus { ReplyStatus(code, message) }
}
