/// A handle the node assigned (stream, event, module). Stream handle 0 is the device's legacy default stream.
public struct HandleReply: Sendable, Hashable {
    public var handle: UInt64
    public init(handle: UInt64) { self.handle = handle }
    public func encode(into w: inout WireWriter) { w.u64(handle) }
    public init(from r: inout WireReader) throws(WireError) { handle = try r.u64() }
}

/// `cudaStreamCreateWithPriority`. Reply: ``HandleReply``.
public struct CreateStream: WireMessage, Hashable {
    public static let opcode = Opcode.createStream
    public var device: Int
    /// `cudaStreamNonBlocking` = 1.
    public var flags: UInt32
    public var priority: Int32
    public init(device: Int, flags: UInt32, priority: Int32) { self.device = device; self.flags = flags; self.priority = priority }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u32(flags); w.i32(priority) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); flags = try r.u32(); priority = try r.i32() }
}

/// A request naming one stream or event handle.
public protocol HandleMessage: WireMessage {
    var handle: UInt64 { get }
    init(handle: UInt64)
}

extension HandleMessage {
    public func encode(into w: inout WireWriter) { w.u64(handle) }
    public init(from r: inout WireReader) throws(WireError) { self.init(handle: try r.u64()) }
}

/// `cudaStreamDestroy` (pipelined).
public struct DestroyStream: HandleMessage, Hashable {
    public static let opcode = Opcode.destroyStream
    public var handle: UInt64
    public init(handle: UInt64) { self.handle = handle }
}

/// `cudaStreamSynchronize` on a created stream. The default stream of a device is synchronized with
/// ``SynchronizeDevice``-like semantics through ``SynchronizeStreamOnDevice``.
public struct SynchronizeStream: WireMessage, Hashable {
    public static let opcode = Opcode.synchronizeStream
    public var device: Int
    public var stream: UInt64
    public init(device: Int, stream: UInt64) { self.device = device; self.stream = stream }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(stream) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); stream = try r.u64() }
}

/// `cudaStreamQuery`: status ``ReplyStatus/Code/notReady`` while work is queued.
public struct QueryStream: WireMessage, Hashable {
    public static let opcode = Opcode.queryStream
    public var device: Int
    public var stream: UInt64
    public init(device: Int, stream: UInt64) { self.device = device; self.stream = stream }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(stream) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); stream = try r.u64() }
}

/// `cudaStreamWaitEvent` (pipelined).
public struct StreamWaitEvent: WireMessage, Hashable {
    public static let opcode = Opcode.streamWaitEvent
    public var device: Int
    public var stream: UInt64
    public var event: UInt64
    public init(device: Int, stream: UInt64, event: UInt64) { self.device = device; self.stream = stream; self.event = event }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(stream); w.u64(event) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); stream = try r.u64(); event = try r.u64() }
}

/// `cudaEventCreateWithFlags`. Reply: ``HandleReply``.
public struct CreateEvent: WireMessage, Hashable {
    public static let opcode = Opcode.createEvent
    public var device: Int
    /// `cudaEventDisableTiming` = 2.
    public var flags: UInt32
    public init(device: Int, flags: UInt32) { self.device = device; self.flags = flags }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u32(flags) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); flags = try r.u32() }
}

/// `cudaEventDestroy` (pipelined).
public struct DestroyEvent: HandleMessage, Hashable {
    public static let opcode = Opcode.destroyEvent
    public var handle: UInt64
    public init(handle: UInt64) { self.handle = handle }
}

/// `cudaEventRecord` (pipelined).
public struct RecordEvent: WireMessage, Hashable {
    public static let opcode = Opcode.recordEvent
    public var device: Int
    public var event: UInt64
    public var stream: UInt64
    public init(device: Int, event: UInt64, stream: UInt64) { self.device = device; self.event = event; self.stream = stream }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(event); w.u64(stream) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); event = try r.u64(); stream = try r.u64() }
}

/// `cudaEventSynchronize`.
public struct SynchronizeEvent: HandleMessage, Hashable {
    public static let opcode = Opcode.synchronizeEvent
    public var handle: UInt64
    public init(handle: UInt64) { self.handle = handle }
}

/// `cudaEventQuery`: status ``ReplyStatus/Code/notReady`` until the recorded point is reached.
public struct QueryEvent: HandleMessage, Hashable {
    public static let opcode = Opcode.queryEvent
    public var handle: UInt64
    public init(handle: UInt64) { self.handle = handle }
}

/// `cudaEventElapsedTime`. Reply: ``ElapsedTimeReply``.
public struct EventElapsedTime: WireMessage, Hashable {
    public static let opcode = Opcode.eventElapsedTime
    public var start: UInt64
    public var end: UInt64
    public init(start: UInt64, end: UInt64) { self.start = start; self.end = end }
    public func encode(into w: inout WireWriter) { w.u64(start); w.u64(end) }
    public init(from r: inout WireReader) throws(WireError) { start = try r.u64(); end = try r.u64() }
}

public struct ElapsedTimeReply: Sendable, Hashable {
    public var milliseconds: Float
    public init(milliseconds: Float) { self.milliseconds = milliseconds }
    public func encode(into w: inout WireWriter) { w.u32(milliseconds.bitPattern) }
    public init(from r: inout WireReader) throws(WireError) { milliseconds = Float(bitPattern: try r.u32()) }
}

/// `cudaDeviceSynchronize`.
public struct SynchronizeDevice: WireMessage, Hashable {
    public static let opcode = Opcode.synchronizeDevice
    public var device: Int
    public init(device: Int) { self.device = device }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()) }
}

/// `cudaDeviceReset`: frees everything the session holds on the vGPU and starts it afresh.
public struct ResetDevice: WireMessage, Hashable {
    public static let opcode = Opcode.resetDevice
    public var device: Int
    public init(device: Int) { self.device = device }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()) }
}
