#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TesseraDevice

/// Where the node keeps paged-out device memory: host memory, or files in a folder while they total at most a
/// cap (beyond it, host memory).
public final class NodePageStore: PageStore {
    /// A folder for paged memory and the most bytes its files may hold together.
    public struct FileSpace: Sendable, Hashable {
        public var directory: String
        public var limit: Int
        public init(directory: String, limit: Int) {
            self.directory = directory
            self.limit = limit
        }
    }

    let files: FileSpace?
    /// Host memory the store owns; only the store's lock guards who frees it.
    private struct HostCopy: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }
    private enum Copy: Sendable {
        case memory(HostCopy)
        case file(String)
    }
    private struct State {
        var copies: [UInt64: (copy: Copy, size: Int)] = [:]
        var nextID: UInt64 = 1
        var hostBytes = 0
        var fileBytes = 0
    }
    private let state = Mutex(State())

    public init(files: FileSpace? = nil) {
        self.files = files
        if let files { Self.removeStaleFiles(in: files.directory) }
    }

    /// Removes page files that nodes which are no longer running left behind (a crash, a kill): their contents
    /// are tenants' memory, and they would count against nobody's cap.
    static func removeStaleFiles(in directory: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let parts = name.split(separator: "-")
            guard name.hasPrefix("tessera-paged-"), parts.count == 4, let pid = Int32(parts[2]) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) { unlink("\(directory)/\(name)") }
        }
    }

    /// Bytes held in host memory and in files now.
    public var heldBytes: (host: Int, file: Int) { state.withLock { ($0.hostBytes, $0.fileBytes) } }

    public func store(_ bytes: UnsafeRawBufferPointer) throws(DeviceError) -> PageTicket {
        let size = bytes.count
        let (id, toFile) = state.withLock { s -> (UInt64, Bool) in
            defer { s.nextID += 1 }
            let fits = files.map { s.fileBytes + size <= $0.limit } ?? false
            if fits { s.fileBytes += size }  // claimed before writing, so concurrent page-outs respect the cap
            return (s.nextID, fits)
        }
        if toFile, let files {
            let path = "\(files.directory)/tessera-paged-\(getpid())-\(id)"
            if Self.write(bytes, to: path) {
                state.withLock { $0.copies[id] = (.file(path), size) }
                return PageTicket(id: id, size: size)
            }
            // A full or failing disk: host memory instead.
            state.withLock { $0.fileBytes -= size }
        }
        guard let p = malloc(max(size, 1)) else { throw DeviceError(.outOfMemory, "host memory exhausted keeping \(size) paged bytes") }
        if size > 0 { p.copyMemory(from: bytes.baseAddress!, byteCount: size) }
        state.withLock { s in
            s.copies[id] = (.memory(HostCopy(pointer: p)), size)
            s.hostBytes += size
        }
        return PageTicket(id: id, size: size)
    }

    public func load(_ ticket: PageTicket, into destination: UnsafeMutableRawBufferPointer) throws(DeviceError) {
        guard let held = state.withLock({ $0.copies[ticket.id] }), held.size == destination.count else {
            throw DeviceError(.internalError, "paged copy \(ticket.id) is missing")
        }
        switch held.copy {
        case .memory(let p):
            if held.size > 0 { destination.baseAddress!.copyMemory(from: p.pointer, byteCount: held.size) }
        case .file(let path):
            guard Self.read(path, into: destination) else {
                throw DeviceError(.internalError, "cannot read paged copy \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    public func discard(_ ticket: PageTicket) {
        guard let held = state.withLock({ s -> (copy: Copy, size: Int)? in
            guard let h = s.copies.removeValue(forKey: ticket.id) else { return nil }
            switch h.copy {
            case .memory: s.hostBytes -= h.size
            case .file: s.fileBytes -= h.size
            }
            return h
        }) else { return }
        switch held.copy {
        case .memory(let p): free(p.pointer)
        case .file(let path): unlink(path)
        }
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to path: String) -> Bool {
        // O_EXCL | O_NOFOLLOW: a file or link a tenant planted under the next name is never written through.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                unlink(path)
                return false
            }
            offset += n
        }
        return true
    }

    private static func read(_ path: String, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < destination.count {
            let n = pread(fd, destination.baseAddress! + offset, destination.count - offset, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
