/// Asks the node for its GPUs and sessions (administration and tests). Allowed as the first frame instead of
/// ``Hello``; such a connection holds no vGPUs.
///
/// With `callerOnly` (a trailing byte 1; an empty body is the whole node) the reply lists only the sessions of
/// the asking process and the processes it started, as the node identifies the asker (SO_PEERCRED on its unix
/// socket): a notebook kernel in a container, whose own pid is not the node's, finds its sessions this way.
public struct NodeStatusRequest: WireMessage, Hashable {
    public static let opcode = Opcode.nodeStatus
    public var callerOnly: Bool
    public init(callerOnly: Bool = false) { self.callerOnly = callerOnly }
    public func encode(into w: inout WireWriter) { if callerOnly { w.u8(1) } }
    public init(from r: inout WireReader) throws(WireError) {
        callerOnly = r.remainingCount > 0 ? try r.u8() == 1 : false
    }
}

/// Asks the node to page out now every session of process `pid` (a notebook kernel giving its GPU memory back
/// while it sits idle). Allowed as the first frame instead of ``Hello``; on a unix socket only, and only for the
/// caller's own sessions (same uid, as the kernel reports it) unless the caller is root.
public struct PageOutSessions: WireMessage, Hashable {
    public static let opcode = Opcode.pageOutSessions
    public var pid: Int
    public init(pid: Int) { self.pid = pid }
    public func encode(into w: inout WireWriter) { w.i64(Int64(pid)) }
    public init(from r: inout WireReader) throws(WireError) { pid = Int(try r.i64()) }
}

/// The answer to ``PageOutSessions``: how many sessions were paged out and how many bytes they moved.
public struct PageOutSessionsReply: Sendable, Hashable {
    public var sessions: Int
    public var bytes: Int
    public init(sessions: Int, bytes: Int) { self.sessions = sessions; self.bytes = bytes }
    public func encode(into w: inout WireWriter) { w.size(sessions); w.size(bytes) }
    public init(from r: inout WireReader) throws(WireError) { sessions = try r.size(); bytes = try r.size() }
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
    /// The session's paging state and history; nil when the node does not page (or predates paging).
    public var paging: SessionPagingStatus?
    public init(id: UInt64, programName: String, pid: Int, uid: Int, gid: Int, peer: String, virtualGPUs: [VirtualGPUStatus],
                paging: SessionPagingStatus? = nil) {
        self.id = id; self.programName = programName; self.pid = pid; self.uid = uid; self.gid = gid
        self.peer = peer; self.virtualGPUs = virtualGPUs; self.paging = paging
    }
}

/// Where a session's device memory is, and how paging it went so far.
public struct SessionPagingStatus: Sendable, Hashable {
    public enum State: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// On the device.
        case resident = 0
        /// Being copied out.
        case pagingOut = 1
        /// In host memory (or a file); the session's next request pages it in.
        case paged = 2
        /// Being copied back in.
        case pagingIn = 3
        /// Paged, and its next request waits until the device has room for it.
        case waitingForRoom = 4

        public var description: String {
            switch self {
            case .resident: "resident"
            case .pagingOut: "paging-out"
            case .paged: "paged"
            case .pagingIn: "paging-in"
            case .waitingForRoom: "waiting"
            }
        }
    }

    public var state: State
    /// Time since the session's last request ended (0 while one runs).
    public var idleNanoseconds: UInt64
    /// Bytes of the session's allocations not on the device now.
    public var pagedBytes: Int
    public var pageOuts: Int
    public var pageIns: Int
    /// Duration of the last page-out, and of the last page-in from the request that needed it to the memory
    /// being back (waiting for room included).
    public var lastPageOutNanoseconds: UInt64
    public var lastPageInNanoseconds: UInt64
    /// Totals over the session's life.
    public var pageOutNanoseconds: UInt64
    public var pageInNanoseconds: UInt64
    public var pagedOutBytes: UInt64
    public var pagedInBytes: UInt64

    public init(state: State = .resident, idleNanoseconds: UInt64 = 0, pagedBytes: Int = 0, pageOuts: Int = 0, pageIns: Int = 0,
                lastPageOutNanoseconds: UInt64 = 0, lastPageInNanoseconds: UInt64 = 0, pageOutNanoseconds: UInt64 = 0,
                pageInNanoseconds: UInt64 = 0, pagedOutBytes: UInt64 = 0, pagedInBytes: UInt64 = 0) {
        self.state = state; self.idleNanoseconds = idleNanoseconds; self.pagedBytes = pagedBytes
        self.pageOuts = pageOuts; self.pageIns = pageIns
        self.lastPageOutNanoseconds = lastPageOutNanoseconds; self.lastPageInNanoseconds = lastPageInNanoseconds
        self.pageOutNanoseconds = pageOutNanoseconds; self.pageInNanoseconds = pageInNanoseconds
        self.pagedOutBytes = pagedOutBytes; self.pagedInBytes = pagedInBytes
    }

    func encode(into w: inout WireWriter) {
        w.u8(state.rawValue); w.u64(idleNanoseconds); w.size(pagedBytes); w.size(pageOuts); w.size(pageIns)
        w.u64(lastPageOutNanoseconds); w.u64(lastPageInNanoseconds); w.u64(pageOutNanoseconds); w.u64(pageInNanoseconds)
        w.u64(pagedOutBytes); w.u64(pagedInBytes)
    }

    init(from r: inout WireReader) throws(WireError) {
        let raw = try r.u8()
        guard let state = State(rawValue: raw) else { throw WireError(.malformed, "paging state \(raw)") }
        self.init(state: state, idleNanoseconds: try r.u64(), pagedBytes: try r.size(), pageOuts: try r.size(), pageIns: try r.size(),
                  lastPageOutNanoseconds: try r.u64(), lastPageInNanoseconds: try r.u64(), pageOutNanoseconds: try r.u64(),
                  pageInNanoseconds: try r.u64(), pagedOutBytes: try r.u64(), pagedInBytes: try r.u64())
    }
}

/// The node's answer to ``NodeStatusRequest``.
public struct NodeStatusReply: Sendable, Hashable {
    public var gpus: [GPUStatus]
    public var sessions: [SessionStatus]
    /// `tessera node --page-idle-after`, in milliseconds: sessions idle this long may be paged out. Nil: the
    /// node does not page.
    public var pageIdleAfterMilliseconds: Int?
    /// Bytes of paged-out memory the node holds now (host memory and files).
    public var pagedBytesHeld: Int
    public init(gpus: [GPUStatus], sessions: [SessionStatus], pageIdleAfterMilliseconds: Int? = nil, pagedBytesHeld: Int = 0) {
        self.gpus = gpus; self.sessions = sessions; self.pageIdleAfterMilliseconds = pageIdleAfterMilliseconds
        self.pagedBytesHeld = pagedBytesHeld
    }

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
        // Paging, appended after that: the setting, then each session's paging state (a flag byte first).
        w.u8(pageIdleAfterMilliseconds == nil ? 0 : 1)
        w.size(pageIdleAfterMilliseconds ?? 0)
        w.size(pagedBytesHeld)
        w.u32(UInt32(sessions.count))
        for s in sessions {
            if let p = s.paging {
                w.u8(1)
                p.encode(into: &w)
            } else {
                w.u8(0)
            }
        }
    }

    public init(from r: inout WireReader) throws(WireError) {
        gpus = []
        sessions = []
        pagedBytesHeld = 0
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
        guard r.remainingCount > 0 else { return }
        let pages = try r.u8() != 0
        let idleAfter = try r.size()
        pageIdleAfterMilliseconds = pages ? idleAfter : nil
        pagedBytesHeld = try r.size()
        let described = Int(try r.u32())
        guard described == s else { throw WireError(.malformed, "paging of \(described) sessions, \(s) listed") }
        for i in 0..<s {
            if try r.u8() != 0 { sessions[i].paging = try SessionPagingStatus(from: &r) }
        }
    }
}
