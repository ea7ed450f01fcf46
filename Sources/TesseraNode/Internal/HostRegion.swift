#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import TesseraWire

/// A client's host memory mapped into the node (pinned buffers, staging area): copies read and write it directly.
struct HostRegion {
    let base: UnsafeMutableRawPointer
    let size: Int
    /// The shared-memory file, kept open while a backend whose driver runs in another process maps it there
    /// (into the program's devices, or for copies: ``DeviceContext/shareHostMemory(_:)``); -1 when closed.
    var file: Int32 = -1
    /// Where the session's devices address it (the program's address of it), or 0 when they do not.
    var deviceAddress: UInt64 = 0

    /// Maps a shared-memory file the client sent, taking ownership of `fd` (kept open when `keepFile`). The file
    /// must be sealed against shrinking, so the client cannot truncate it under the node's feet (which would
    /// fault the node on access).
    static func map(fd: Int32, size: Int, keepFile: Bool = false) throws(DeviceError) -> HostRegion {
        var keep = false
        defer { if !keep { close(fd) } }
        guard size > 0 else { throw DeviceError(.invalidValue, "empty host region") }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) >= size else {
            throw DeviceError(.invalidValue, "host region file is smaller than \(size) bytes")
        }
        guard tessera_fd_is_shrink_sealed(fd) != 0 else {
            throw DeviceError(.invalidValue, "host region file must be a memfd sealed with F_SEAL_SHRINK")
        }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw DeviceError(.outOfMemory, "cannot map \(size) bytes of host memory") }
        keep = keepFile
        return HostRegion(base: p, size: size, file: keepFile ? fd : -1)
    }

    /// What a device backend maps (``DeviceContext/mapHostMemory(_:at:)``).
    var shared: SharedHostMemory { SharedHostMemory(storage: base, count: size, file: file) }

    /// Pointer to [offset, offset + count) when the range lies inside the region.
    func pointer(offset: Int, count: Int) throws(DeviceError) -> UnsafeMutableRawPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw DeviceError(.invalidValue, "range \(offset)+\(count) lies outside the \(size)-byte host region")
        }
        return base + offset
    }

    /// Closes the file once no device maps the region (the node's own mapping stays).
    mutating func closeFile() {
        if file >= 0 { close(file) }
        file = -1
    }

    func unmap() {
        munmap(base, size)
        if file >= 0 { close(file) }
    }
}
