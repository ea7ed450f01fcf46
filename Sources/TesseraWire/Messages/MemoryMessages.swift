/// Where the host side of a copy lives.
public enum HostLocation: Sendable, Hashable {
    /// In the frame: the bytes follow the message (host → device) or come back in the reply (device → host).
    case inline
    /// In a shared host region registered with ``RegisterHostMemory``, at `offset`.
    case region(UInt64, offset: Int)

    func encode(into w: inout WireWriter) {
        switch self {
        case .inline: w.u8(0)
        case let .region(id, offset): w.u8(1); w.u64(id); w.size(offset)
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        switch try r.u8() {
        case 0: self = .inline
        case 1: self = .region(try r.u64(), offset: try r.size(max: 1 << 44))
        case let k: throw WireError(.malformed, "host location kind \(k)")
        }
    }
}

/// `cudaMalloc` on one vGPU. Reply: ``AddressReply``.
public struct Allocate: WireMessage, Hashable {
    public static let opcode = Opcode.allocate
    public var device: Int
    public var size: Int
    public init(device: Int, size: Int) { self.device = device; self.size = size }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.size(size) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); size = try r.size(max: 1 << 50) }
}

/// A device address.
public struct AddressReply: Sendable, Hashable {
    public var address: UInt64
    public init(address: UInt64) { self.address = address }
    public func encode(into w: inout WireWriter) { w.u64(address) }
    public init(from r: inout WireReader) throws(WireError) { address = try r.u64() }
}

/// `cudaFree`.
public struct Free: WireMessage, Hashable {
    public static let opcode = Opcode.free
    public var device: Int
    public var address: UInt64
    public init(device: Int, address: UInt64) { self.device = device; self.address = address }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(address) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()); address = try r.u64() }
}

/// `cudaMemGetInfo`. Reply: ``MemoryInfoReply``.
public struct MemoryInfo: WireMessage, Hashable {
    public static let opcode = Opcode.memoryInfo
    public var device: Int
    public init(device: Int) { self.device = device }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)) }
    public init(from r: inout WireReader) throws(WireError) { device = Int(try r.u32()) }
}

public struct MemoryInfoReply: Sendable, Hashable {
    public var free: Int
    public var total: Int
    public init(free: Int, total: Int) { self.free = free; self.total = total }
    public func encode(into w: inout WireWriter) { w.size(free); w.size(total) }
    public init(from r: inout WireReader) throws(WireError) { free = try r.size(); total = try r.size() }
}

/// Host → device copy of `count` bytes. With ``HostLocation/inline`` exactly `count` bytes follow the message.
/// Pipelined unless the frame expects a reply; a synchronous one completes before the reply.
public struct CopyToDevice: WireMessage, Hashable {
    public static let opcode = Opcode.copyToDevice
    public var device: Int
    public var stream: UInt64
    public var destination: UInt64
    public var count: Int
    public var source: HostLocation
    public init(device: Int, stream: UInt64, destination: UInt64, count: Int, source: HostLocation) {
        self.device = device; self.stream = stream; self.destination = destination; self.count = count; self.source = source
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device)); w.u64(stream); w.u64(destination); w.size(count); source.encode(into: &w)
    }
    /// Decodes the fixed fields; inline data, if any, is left in the reader.
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64(); destination = try r.u64(); count = try r.size(max: 1 << 44)
        source = try HostLocation(from: &r)
    }
}

/// Device → host copy. With ``HostLocation/inline`` the reply carries the bytes after its header (split into
/// several frames when large); otherwise the node writes into the shared region.
public struct CopyFromDevice: WireMessage, Hashable {
    public static let opcode = Opcode.copyFromDevice
    public var device: Int
    public var stream: UInt64
    public var source: UInt64
    public var count: Int
    public var destination: HostLocation
    public init(device: Int, stream: UInt64, source: UInt64, count: Int, destination: HostLocation) {
        self.device = device; self.stream = stream; self.source = source; self.count = count; self.destination = destination
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device)); w.u64(stream); w.u64(source); w.size(count); destination.encode(into: &w)
    }
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64(); source = try r.u64(); count = try r.size(max: 1 << 44)
        destination = try HostLocation(from: &r)
    }
}

/// Device → device copy (memmove semantics).
public struct CopyOnDevice: WireMessage, Hashable {
    public static let opcode = Opcode.copyOnDevice
    public var device: Int
    public var stream: UInt64
    public var destination: UInt64
    public var source: UInt64
    public var count: Int
    public init(device: Int, stream: UInt64, destination: UInt64, source: UInt64, count: Int) {
        self.device = device; self.stream = stream; self.destination = destination; self.source = source; self.count = count
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device)); w.u64(stream); w.u64(destination); w.u64(source); w.size(count)
    }
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64(); destination = try r.u64(); source = try r.u64(); count = try r.size(max: 1 << 44)
    }
}

/// A 2D copy of `height` rows of `width` bytes. The device side(s) use their pitch; an inline host side is
/// packed (pitch = width), a region host side uses the pitch given for that side.
public struct Copy2D: WireMessage, Hashable {
    public enum Direction: UInt8, Sendable { case hostToDevice = 0, deviceToHost = 1, deviceToDevice = 2 }
    public static let opcode = Opcode.copy2D
    public var device: Int
    public var stream: UInt64
    public var direction: Direction
    public var destination: UInt64
    public var destinationPitch: Int
    public var source: UInt64
    public var sourcePitch: Int
    public var width: Int
    public var height: Int
    /// The host side for host ↔ device copies (ignored device → device).
    public var host: HostLocation
    public init(device: Int, stream: UInt64, direction: Direction, destination: UInt64, destinationPitch: Int,
                source: UInt64, sourcePitch: Int, width: Int, height: Int, host: HostLocation) {
        self.device = device; self.stream = stream; self.direction = direction; self.destination = destination
        self.destinationPitch = destinationPitch; self.source = source; self.sourcePitch = sourcePitch
        self.width = width; self.height = height; self.host = host
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device)); w.u64(stream); w.u8(direction.rawValue); w.u64(destination); w.size(destinationPitch)
        w.u64(source); w.size(sourcePitch); w.size(width); w.size(height); host.encode(into: &w)
    }
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64()
        guard let d = Direction(rawValue: try r.u8()) else { throw WireError(.malformed, "copy direction") }
        direction = d
        destination = try r.u64(); destinationPitch = try r.size(max: 1 << 40)
        source = try r.u64(); sourcePitch = try r.size(max: 1 << 40)
        width = try r.size(max: 1 << 40); height = try r.size(max: 1 << 40)
        host = try HostLocation(from: &r)
    }
}

/// `cudaMemset`.
public struct Memset: WireMessage, Hashable {
    public static let opcode = Opcode.memset
    public var device: Int
    public var stream: UInt64
    public var destination: UInt64
    public var value: UInt8
    public var count: Int
    public init(device: Int, stream: UInt64, destination: UInt64, value: UInt8, count: Int) {
        self.device = device; self.stream = stream; self.destination = destination; self.value = value; self.count = count
    }
    public func encode(into w: inout WireWriter) { w.u32(UInt32(device)); w.u64(stream); w.u64(destination); w.u8(value); w.size(count) }
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64(); destination = try r.u64(); value = try r.u8(); count = try r.size(max: 1 << 44)
    }
}

/// `cudaMemset2D`.
public struct Memset2D: WireMessage, Hashable {
    public static let opcode = Opcode.memset2D
    public var device: Int
    public var stream: UInt64
    public var destination: UInt64
    public var pitch: Int
    public var value: UInt8
    public var width: Int
    public var height: Int
    public init(device: Int, stream: UInt64, destination: UInt64, pitch: Int, value: UInt8, width: Int, height: Int) {
        self.device = device; self.stream = stream; self.destination = destination; self.pitch = pitch
        self.value = value; self.width = width; self.height = height
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(device)); w.u64(stream); w.u64(destination); w.size(pitch); w.u8(value); w.size(width); w.size(height)
    }
    public init(from r: inout WireReader) throws(WireError) {
        device = Int(try r.u32()); stream = try r.u64(); destination = try r.u64(); pitch = try r.size(max: 1 << 40)
        value = try r.u8(); width = try r.size(max: 1 << 40); height = try r.size(max: 1 << 40)
    }
}
