/// Asks the node for its GPUs and sessions (administration and tests). Allowed as the first frame instead of
/// ``Hello``; such a connection holds no vGPUs.
public struct NodeStatusRequest: WireMessage, Hashable {
    public static let opcode = Opcode.nodeStatus
    public init() {}
    public func encode(into w: inout WireWriter) {}
    public init(from r: inout WireReader) throws(WireError) {}
}

/// A physical GPU of the node and how much of it is granted and used.
public struct GPUStatus: Sendable, Hashable {
    public var index: Int
    public var name: String
    public var totalMemory: Int
    /// Bytes allocated on the device by all sessions.
    public var usedMemory: Int
    /// Memory promised to vGPUs placed on this GPU.
    public var grantedMemory: Int
    public var grantedComputePercent: Int
    /// A simulated GPU, which runs kernels from their PTX only (no machine code): clients that compile for the
    /// device (CuPy, Numba) must hand it PTX. Nil when the node did not say (a node before this field).
    public var simulated: Bool?

    public init(index: Int, name: String, totalMemory: Int, usedMemory: Int, grantedMemory: Int, grantedComputePercent: Int,
                simulated: Bool? = nil) {
        self.index = index; self.name = name; self.totalMemory = totalMemory; self.usedMemory = usedMemory
        self.grantedMemory = grantedMemory; self.grantedComputePercent = grantedComputePercent; self.simulated = simulated
    }
}

extension GPUStatus {
    static let simulatedFlag: UInt8 = 1
}

/// One vGPU of a session.
public struct VirtualGPUStatus: Sendable, Hashable {
    public var physicalIndex: Int
    public var memoryBytes: Int
    public var computePercent: Int
    public var usedMemory: Int
    public var computeMode: ComputeMode
    /// Achieved compute utilization over the last second: the fraction of the GPU's time this vGPU's work
    /// occupied it, in hundredths of a percent (10 000 = the whole GPU).
    public var utilizationBasisPoints: Int
    /// Total device time this vGPU's work has used, in nanoseconds (differences give shares over any window).
    public var busyNanoseconds: UInt64
    public init(physicalIndex: Int, memoryBytes: Int, computePercent: Int, usedMemory: Int,
                computeMode: ComputeMode = .share, utilizationBasisPoints: Int = 0, busyNanoseconds: UInt64 = 0) {
        self.busyNanoseconds = busyNanoseconds
        self.physicalIndex = physicalIndex; self.memoryBytes = memoryBytes
        self.computePercent = computePercent; self.usedMemory = usedMemory
        self.computeMode = computeMode; self.utilizationBasisPoints = utilizationBasisPoints
    }
}

/// A live session: its peer's identity (from the kernel on a unix socket) and its vGPUs.
public struct SessionStatus: Sendable, Hashable {
    public var id: UInt64
    public var programName: String
    /// Peer credentials; -1 when unknown (TCP).
    public var pid: Int
    public var uid: Int
    public var gid: Int
    /// "unix" or the TCP peer address.
    public var peer: String
    public var virtualGPUs: [VirtualGPUStatus]
    public init(id: UInt64, programName: String, pid: Int, uid: Int, gid: Int, peer: String, virtualGPUs: [VirtualGPUStatus]) {
        self.id = id; self.programName = programName; self.pid = pid; self.uid = uid; self.gid = gid
        self.peer = peer; self.virtualGPUs = virtualGPUs
    }
}

/// The node's answer to ``NodeStatusRequest``.
public struct NodeStatusReply: Sendable, Hashable {
    public var gpus: [GPUStatus]
    public var sessions: [SessionStatus]
    public init(gpus: [GPUStatus], sessions: [SessionStatus]) { self.gpus = gpus; self.sessions = sessions }

    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(gpus.count))
        for g in gpus {
            w.size(g.index); w.string(g.name); w.size(g.totalMemory); w.size(g.usedMemory)
            w.size(g.grantedMemory); w.size(g.grantedComputePercent)
        }
        w.u32(UInt32(sessions.count))
        for s in sessions {
            w.u64(s.id); w.string(s.programName); w.i64(Int64(s.pid)); w.i64(Int64(s.uid)); w.i64(Int64(s.gid))
            w.string(s.peer)
            w.u32(UInt32(s.virtualGPUs.count))
            for v in s.virtualGPUs {
                w.size(v.physicalIndex); w.size(v.memoryBytes); w.size(v.computePercent); w.size(v.usedMemory)
                w.u8(v.computeMode.rawValue); w.size(v.utilizationBasisPoints); w.u64(v.busyNanoseconds)
            }
        }
        // Appended after the first release's fields, so older readers stop before it: one flags byte per GPU.
        w.u32(UInt32(gpus.count))
        for g in gpus { w.u8(g.simulated == true ? GPUStatus.simulatedFlag : 0) }
    }

    public init(from r: inout WireReader) throws(WireError) {
        gpus = []
        sessions = []
        let g = Int(try r.u32())
        guard g <= 4096 else { throw WireError(.malformed, "\(g) GPUs") }
        for _ in 0..<g {
            gpus.append(GPUStatus(index: try r.size(), name: try r.string(), totalMemory: try r.size(), usedMemory: try r.size(),
                                  grantedMemory: try r.size(), grantedComputePercent: try r.size()))
        }
        let s = Int(try r.u32())
        guard s <= 1 << 20 else { throw WireError(.malformed, "\(s) sessions") }
        for _ in 0..<s {
            let id = try r.u64(), name = try r.string()
            let pid = Int(try r.i64()), uid = Int(try r.i64()), gid = Int(try r.i64())
            let peer = try r.string()
            let n = Int(try r.u32())
            guard n <= WireProtocol.maxVirtualGPUs else { throw WireError(.malformed, "\(n) vGPUs") }
            var v: [VirtualGPUStatus] = []
            for _ in 0..<n {
                let physical = try r.size(), memory = try r.size(), compute = try r.size(), used = try r.size()
                let raw = try r.u8()
                guard let mode = ComputeMode(rawValue: raw) else { throw WireError(.malformed, "compute mode \(raw)") }
                v.append(VirtualGPUStatus(physicalIndex: physical, memoryBytes: memory, computePercent: compute, usedMemory: used,
                                          computeMode: mode, utilizationBasisPoints: try r.size(max: 10_000), busyNanoseconds: try r.u64()))
            }
            sessions.append(SessionStatus(id: id, programName: name, pid: pid, uid: uid, gid: gid, peer: peer, virtualGPUs: v))
        }
        guard r.remainingCount > 0 else { return }
        let flagged = Int(try r.u32())
        guard flagged == g else { throw WireError(.malformed, "GPU flags for \(flagged) GPUs, \(g) listed") }
        for i in 0..<g { gpus[i].simulated = try r.u8() & GPUStatus.simulatedFlag != 0 }
    }
}
