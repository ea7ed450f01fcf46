/// Device-side output a node forwards to its program (node → client, opcode ``Opcode/deviceOutput``): what
/// the kernels finished since the last synchronisation point wrote with `printf` (for the program's stdout)
/// and the messages of failed `assert`s (for its stderr). It travels just before the reply that ends the
/// synchronisation, so the program sees it before the synchronising call returns, as CUDA does.
public struct DeviceOutput: Sendable, Hashable {
    /// Which of the program's streams the bytes belong to.
    public enum Channel: UInt8, Sendable, Hashable {
        /// Device `printf` (file descriptor 1).
        case standardOutput = 1
        /// Device `assert` messages (file descriptor 2).
        case standardError = 2
    }

    public var channel: Channel
    public var bytes: [UInt8]

    public init(channel: Channel, bytes: [UInt8]) {
        self.channel = channel
        self.bytes = bytes
    }

    /// The most bytes one frame carries; longer output is split over several frames.
    public static let maxChunk = 1 << 20

    public func encode(into w: inout WireWriter) {
        w.u8(channel.rawValue)
        w.blob(bytes)
    }

    public init(from r: inout WireReader) throws(WireError) {
        let raw = try r.u8()
        guard let channel = Channel(rawValue: raw) else { throw WireError(.malformed, "unknown device output channel \(raw)") }
        self.channel = channel
        bytes = try r.blob(max: Self.maxChunk)
    }
}

/// `cudaDeviceSetLimit` / `cuCtxSetLimit` for a limit the device side honours (pipelined; an unknown limit
/// or value fails the next reply with `invalidValue`).
public struct SetLimit: WireMessage, Hashable {
    public static let opcode = Opcode.setLimit
    /// `cudaLimit` numbering: 0 stack size, 1 printf FIFO size, 2 malloc heap size, …
    public var limit: UInt32
    public var device: Int
    public var value: Int

    /// `cudaLimitStackSize`.
    public static let stackSize: UInt32 = 0
    /// `cudaLimitPrintfFifoSize`.
    public static let printfFifoSize: UInt32 = 1

    public init(device: Int, limit: UInt32, value: Int) { self.device = device; self.limit = limit; self.value = value }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u32(limit); w.size(value) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); limit = try r.u32(); value = try r.size() }
}
