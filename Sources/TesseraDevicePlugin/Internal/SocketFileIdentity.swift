#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which file a path names now, so a socket deleted and created again reads as different: device and inode,
/// plus the change time, since a file system may hand a freed inode number to the next file.
struct SocketFileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let changeSeconds: Int64
    let changeNanoseconds: Int64

    /// The identity of the file at `path`, or `nil` when there is none.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        #if canImport(Darwin)
        changeSeconds = Int64(info.st_ctimespec.tv_sec)
        changeNanoseconds = Int64(info.st_ctimespec.tv_nsec)
        #else
        changeSeconds = Int64(info.st_ctim.tv_sec)
        changeNanoseconds = Int64(info.st_ctim.tv_nsec)
        #endif
    }
}

/// Removes a file, ignoring a missing one.
func unlinkFile(_ path: String) {
    _ = unlink(path)
}
