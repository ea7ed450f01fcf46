#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX

/// Finds the shared-memory file behind a range of this process's memory, so that host memory a program
/// registers for the device (`cuMemHostRegister` with `CU_MEMHOSTREGISTER_DEVICEMAP`) can be shared with the node
/// the way `cuMemHostAlloc`'s is. Works unprivileged: the range's mapping is read from `/proc/self/maps`, its
/// file reopened through `/proc/self/map_files` where the process may (privileged), else found among the
/// process's open descriptors by device and inode.
package enum SharedFileMapping {
    /// One line of `/proc/self/maps`.
    package struct Mapping: Hashable {
        package var start: UInt
        package var end: UInt
        package var shared: Bool
        package var writable: Bool
        package var offset: UInt64
        package var deviceMajor: UInt32
        package var deviceMinor: UInt32
        package var inode: UInt64
    }

    /// A new close-on-exec descriptor of the file that [base, base + size) maps shared and writable from the
    /// file's first byte, when that file is sealed against shrinking (a memfd, as Tessera's node requires);
    /// nil otherwise (private or anonymous memory, a range across mappings, an unsealed file). The caller closes it.
    /// Without `reopening`, only the open descriptors are searched (as an unprivileged process finds it).
    package static func file(mapping base: UInt, size: Int, reopening: Bool = true) -> Int32? {
        guard size > 0, let m = mapping(containing: base), m.shared, m.writable, m.inode != 0,
              base + UInt(size) <= m.end, m.offset + UInt64(base - m.start) == 0 else { return nil }
        guard let fd = (reopening ? reopen(m) : nil) ?? openDescriptor(of: m) else { return nil }
        guard tessera_fd_is_shrink_sealed(fd) != 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// The mapping of this process that contains `address`.
    package static func mapping(containing address: UInt) -> Mapping? {
        guard let text = readAll("/proc/self/maps") else { return nil }
        for line in text.split(separator: UInt8(ascii: "\n")) {
            if let m = parse(line), address >= m.start, address < m.end { return m }
        }
        return nil
    }

    /// Parses `start-end perms offset major:minor inode [path]`.
    package static func parse(_ line: some Collection<UInt8>) -> Mapping? {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: UInt8(ascii: "-"))
        let device = fields[3].split(separator: UInt8(ascii: ":"))
        let perms = Array(fields[1])
        guard range.count == 2, device.count == 2, perms.count >= 4,
              let start = number(range[0], radix: 16), let end = number(range[1], radix: 16),
              let offset = number(fields[2], radix: 16), let major = number(device[0], radix: 16),
              let minor = number(device[1], radix: 16), let inode = number(fields[4], radix: 10) else { return nil }
        return Mapping(start: UInt(start), end: UInt(end), shared: perms[3] == UInt8(ascii: "s"), writable: perms[1] == UInt8(ascii: "w"),
                       offset: offset, deviceMajor: UInt32(truncatingIfNeeded: major), deviceMinor: UInt32(truncatingIfNeeded: minor),
                       inode: inode)
    }

    private static func number(_ digits: some Collection<UInt8>, radix: UInt64) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in digits {
            let d: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard d < radix else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: radix)
            let (s, o2) = m.addingReportingOverflow(d)
            guard !o1, !o2 else { return nil }
            v = s
        }
        return v
    }

    /// Whether `fd` is the file `m` maps.
    private static func isFile(_ fd: Int32, of m: Mapping) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, UInt64(st.st_ino) == m.inode else { return false }
        // The kernel's device number encoding (glibc's major()/minor()).
        let dev = UInt64(st.st_dev)
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        return major == m.deviceMajor && minor == m.deviceMinor
    }

    /// The mapping's file through `/proc/self/map_files` (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
    private static func reopen(_ m: Mapping) -> Int32? {
        let path = "/proc/self/map_files/\(String(m.start, radix: 16))-\(String(m.end, radix: 16))"
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        if isFile(fd, of: m) { return fd }
        close(fd)
        return nil
    }

    /// A duplicate of an open descriptor of the mapping's file.
    private static func openDescriptor(of m: Mapping) -> Int32? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let n = Int32(name), isFile(n, of: m), fcntl(n, F_GETFL) & O_ACCMODE == O_RDWR else { continue }
            let fd = fcntl(n, F_DUPFD_CLOEXEC, 0)
            if fd >= 0 { return fd }
        }
        return nil
    }

    private static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}
