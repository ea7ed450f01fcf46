/// Constants of the runtime ↔ node protocol.
///
/// A connection carries frames in both directions. Each frame is a 16-byte ``FrameHeader`` followed by a body
/// of `bodyLength` bytes. The client opens with ``Hello``; the node answers with ``HelloReply`` or an error and
/// closes. Requests flagged ``FrameFlags/replyExpected`` get exactly one reply (possibly split into several
/// frames with ``FrameFlags/moreFollows``); all other requests are pipelined: the node answers nothing and
/// reports their failures in the next reply (see ``ReplyStatus``).
public enum WireProtocol {
    /// Version byte carried in every frame header; a peer rejects frames of another version.
    public static let version: UInt8 = 1
    /// First field of ``Hello``: identifies a Tessera client on a socket that might be reached by anything.
    public static let helloMagic: UInt32 = 0x5453_5241  // "TSRA"
    /// Size of a frame header in bytes.
    public static let headerSize = 16
    /// Largest body a node accepts in one frame. Bulk copies larger than this are split into several frames.
    public static let maxRequestBody = 16 << 20 + 4096
    /// Largest inline data chunk a client puts in one frame.
    public static let maxInlineChunk = 16 << 20
    /// Largest body a client accepts in one reply frame.
    public static let maxReplyBody = 64 << 20 + 4096
    /// Longest string (names, messages) any message may carry.
    public static let maxStringLength = 4096
    /// Most vGPUs one session may ask for.
    public static let maxVirtualGPUs = 64
    /// Address windows a program's sessions use (one per node it holds vGPUs on).
    public static let maxAddressWindow = 63
}
