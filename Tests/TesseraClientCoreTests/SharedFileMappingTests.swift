#if canImport(Glibc)
import Glibc
#endif
import CTesseraPOSIX
import Testing
import TesseraClientCore

/// Finding the sealed memfd behind registered host memory (`cuMemHostRegister` with DEVICEMAP), which the client
/// then shares with its node.
@Suite struct SharedFileMappingTests {
    /// A sealed memfd of `size` bytes mapped shared; the caller unmaps and closes.
    static func sharedMemory(size: Int) -> (fd: Int32, base: UnsafeMutableRawPointer)? {
        let fd = tessera_memfd_sealed("tessera-test", size)
        guard fd >= 0 else { return nil }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            close(fd)
            return nil
        }
        return (fd, p)
    }

    static func inode(_ fd: Int32) -> UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    @Test func findsTheMemfdBehindASharedMapping() throws {
        let size = 1 << 20
        let memory = try #require(Self.sharedMemory(size: size))
        defer { munmap(memory.base, size); close(memory.fd) }
        let base = UInt(bitPattern: memory.base)
        let found = try #require(SharedFileMapping.file(mapping: base, size: size))
        defer { close(found) }
        #expect(found != memory.fd)
        #expect(Self.inode(found) == Self.inode(memory.fd))
        // The descriptor reaches the same pages: a peer mapping it sees what this process wrote.
        memory.base.storeBytes(of: 0x5eed_1234, toByteOffset: 4096, as: UInt32.self)
        let peer = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, found, 0))
        #expect(peer != MAP_FAILED)
        #expect(peer.load(fromByteOffset: 4096, as: UInt32.self) == 0x5eed_1234)
        munmap(peer, size)
        // A part of the mapping from its first byte is found too, and unprivileged (without
        // /proc/self/map_files) among the open descriptors.
        let part = try #require(SharedFileMapping.file(mapping: base, size: 4096, reopening: false))
        #expect(Self.inode(part) == Self.inode(memory.fd))
        close(part)
    }

    @Test func refusesWhatTheNodeCouldNotMapAtTheSameAddress() throws {
        let size = 64 << 10
        let memory = try #require(Self.sharedMemory(size: size))
        defer { munmap(memory.base, size); close(memory.fd) }
        let base = UInt(bitPattern: memory.base)
        // Not from the file's first byte, or past the mapping's end.
        #expect(SharedFileMapping.file(mapping: base + 4096, size: 4096) == nil)
        #expect(SharedFileMapping.file(mapping: base, size: size + 4096) == nil)
        // Private anonymous memory (malloc'd, stack) has no file to share.
        let anonymous = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(anonymous, size) }
        #expect(SharedFileMapping.file(mapping: UInt(bitPattern: anonymous), size: size) == nil)
        // A file that cannot be sealed against shrinking: the node would refuse it.
        var template = Array("/tmp/tessera-unsealed-XXXXXX".utf8CString)
        let unsealed = mkstemp(&template)
        #expect(unsealed >= 0)
        unlink(template)
        defer { close(unsealed) }
        #expect(ftruncate(unsealed, off_t(size)) == 0)
        let p = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, unsealed, 0))
        defer { munmap(p, size) }
        #expect(SharedFileMapping.file(mapping: UInt(bitPattern: p), size: size) == nil)
    }

    @Test func parsesProcMapsLines() throws {
        let line = Array("7f12a4560000-7f12a4570000 rw-s 00000000 00:01 123456                     /memfd:tessera-pinned (deleted)".utf8)
        let m = try #require(SharedFileMapping.parse(line))
        #expect(m.start == 0x7f12_a456_0000 && m.end == 0x7f12_a457_0000)
        #expect(m.shared && m.writable && m.offset == 0 && m.deviceMajor == 0 && m.deviceMinor == 1 && m.inode == 123456)
        let anonymous = try #require(SharedFileMapping.parse(Array("55d0c1a2b000-55d0c1a4c000 rw-p 00001000 fd:02 0".utf8)))
        #expect(!anonymous.shared && anonymous.offset == 0x1000 && anonymous.deviceMajor == 0xfd && anonymous.inode == 0)
        #expect(SharedFileMapping.parse(Array("garbage".utf8)) == nil)
    }
}
