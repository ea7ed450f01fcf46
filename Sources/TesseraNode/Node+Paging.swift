#if canImport(Glibc)
import Glibc
#endif
import TesseraDevice
import TesseraWire

extension Node {
    /// Places a session on a paging node: the policy sees each GPU's physical use (resident bytes, not quotas);
    /// when that does not fit, the memory idle sessions could give back counts as free too, and those
    /// sessions are paged out (least recently active first) until the new quota fits.
    func placePaging(_ asked: VirtualGPURequest, session: Session, allowRemote: Bool, inventory: [GPUCapacity],
                     pager: Pager) throws(PlacementError) -> SessionPlacement {
        func view(reclaiming: Bool) -> [GPUCapacity] {
            inventory.map { c in
                var c = c
                let resident = backend.memoryUsed(gpu: c.index)
                let reclaimable = reclaiming ? pager.reclaimable(gpu: c.index, excluding: session.id) : 0
                c.grantedMemory = max(0, resident - reclaimable)
                return c
            }
        }
        do throws(PlacementError) {
            return try policy.placeSession(asked, session: session.id, peer: session.peer, allowRemote: allowRemote, on: view(reclaiming: false))
        } catch {
            let placement: SessionPlacement
            do throws(PlacementError) {
                placement = try policy.placeSession(asked, session: session.id, peer: session.peer, allowRemote: allowRemote,
                                                    on: view(reclaiming: true))
            } catch {
                throw error
            }
            let request = placement.granted ?? asked
            var needed: [Int: Int] = [:]
            for g in placement.local { needed[g, default: 0] += request.memoryBytes }
            for (gpu, bytes) in needed.sorted(by: { $0.key < $1.key }) where !pager.makeRoom(gpu: gpu, bytes: bytes, excluding: session.id) {
                policy.sessionEnded(session.id)
                throw PlacementError("GPU \(gpu) has no room for \(bytes >> 20) MiB even after paging out idle sessions: \(error.message)")
            }
            return placement
        }
    }

    /// An allocation the device could not hold though the quota allows it: pages idle sessions out to make
    /// room, then tries once more.
    func allocateMakingRoom(_ session: Session, context: any DeviceContext, gpu: Int, size: Int) throws(DeviceError) -> UInt64 {
        do throws(DeviceError) {
            return try context.allocate(size)
        } catch {
            guard let pager, error.code == .outOfMemory, context.memoryUsed + size <= context.memoryInfo.total else { throw error }
            guard pager.makeRoom(gpu: gpu, bytes: context.deviceBytes(forAllocationOf: size), excluding: session.id) else { throw error }
            return try context.allocate(size)
        }
    }

    /// Pages out sessions now (`%tessera release`, which runs inside the notebook's kernel), whatever their idle
    /// time, over the unix socket only: those of process `requestedPID` when that is the asking process or one
    /// it started (by the node's view of the process tree), else the asking process's own. The asker is the
    /// process the kernel names (SO_PEERCRED): a pid from the wire alone would let one tenant page out another's
    /// sessions, and in a container a program's own pid is not the node's.
    func pageOutSessions(of requestedPID: Int, askedBy peer: PeerIdentity) throws(DeviceError) -> PageOutSessionsReply {
        guard let pager else { throw DeviceError(.notSupported, "this node does not page (start it with --page-idle-after)") }
        guard peer.isLocal else { throw DeviceError(.notSupported, "sessions are paged out on request over the node's unix socket only") }
        let pid = requestedPID > 0 && Self.isProcess(requestedPID, selfOrDescendantOf: peer.pid) ? requestedPID : peer.pid
        let sessions = state.withLock { Array($0.sessions.values) }.filter {
            $0.peer.pid == pid && $0.peer.uid == peer.uid && $0.shared.withLock { $0.admitted }
        }
        guard !sessions.isEmpty else { throw DeviceError(.notFound, "process \(pid) has no session of yours on this node") }
        var reply = PageOutSessionsReply(sessions: 0, bytes: 0)
        for s in sessions {
            reply.bytes += try pager.pageOutNow(s)
            reply.sessions += 1
        }
        return reply
    }

    /// Paging totals since the node started; nil when it does not page.
    public var pagingTotals: PagingTotals? { pager?.totals }

    /// Whether `pid` is `ancestor` or one of its descendants, following parent links in /proc.
    static func isProcess(_ pid: Int, selfOrDescendantOf ancestor: Int) -> Bool {
        var current = pid
        for _ in 0..<64 {
            if current == ancestor { return true }
            guard current > 1, let parent = parentProcess(of: current) else { return false }
            current = parent
        }
        return false
    }

    /// The parent of `pid` from /proc/PID/stat (the field after the state, past the parenthesised name).
    static func parentProcess(of pid: Int) -> Int? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int(fields[1]) : nil
    }
}
