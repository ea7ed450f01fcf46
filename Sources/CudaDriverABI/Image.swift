#if canImport(Glibc)
import Glibc
#endif
import CCudaDriver
import TesseraClientCore

/// A module image as the driver receives it — a pointer with no length — identified and copied, so the program
/// may free its buffer once the load returns. Sizes come from the image's own headers, checked against limits.
enum Image {
    static let wrapperMagic: UInt32 = 0x4662_43B1
    static let containerMagic: UInt32 = 0xBA55_ED50
    static let elfMagic: UInt32 = 0x464C_457F
    static let maximumSize = 1 << 30

    enum Kind: CustomStringConvertible {
        case fatbinary, elf, ptx
        var description: String {
            switch self {
            case .fatbinary: "fatbinary"
            case .elf: "ELF cubin"
            case .ptx: "PTX"
            }
        }
    }

    /// The bytes of the image at `pointer` and what it is. A fatbinary wrapper resolves to its container.
    static func locate(_ pointer: UnsafeRawPointer) -> Result<(UnsafeRawBufferPointer, Kind), DriverFailure> {
        let magic = pointer.loadUnaligned(as: UInt32.self)
        switch magic {
        case wrapperMagic:
            guard let bytes = FatbinRecord.image(fromWrapper: pointer) else {
                Log.once("image:wrapper", "a fatbinary wrapper does not point to a fatbinary Tessera reads")
                return .failure(DriverFailure(CUresult.invalidImage))
            }
            return .success((bytes, bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == containerMagic ? .fatbinary : .ptx))
        case containerMagic:
            let headerSize = Int(pointer.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            let payload = pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            guard headerSize >= 16, payload <= UInt64(maximumSize) else { return .failure(DriverFailure(CUresult.invalidImage)) }
            return .success((UnsafeRawBufferPointer(start: pointer, count: headerSize + Int(payload)), .fatbinary))
        case elfMagic:
            // The extent of a 64-bit ELF: the furthest of its section header table and its sections.
            guard pointer.load(fromByteOffset: 4, as: UInt8.self) == 2 else { return .failure(DriverFailure(CUresult.invalidImage)) }
            let sectionTable = Int(pointer.loadUnaligned(fromByteOffset: 0x28, as: UInt64.self))
            let entrySize = Int(pointer.loadUnaligned(fromByteOffset: 0x3A, as: UInt16.self))
            let count = Int(pointer.loadUnaligned(fromByteOffset: 0x3C, as: UInt16.self))
            guard sectionTable > 0, sectionTable < maximumSize, entrySize >= 64 else { return .failure(DriverFailure(CUresult.invalidImage)) }
            var end = sectionTable + entrySize * count
            for i in 0..<count {
                let header = sectionTable + i * entrySize
                let type = pointer.loadUnaligned(fromByteOffset: header + 4, as: UInt32.self)
                let offset = Int(truncatingIfNeeded: pointer.loadUnaligned(fromByteOffset: header + 0x18, as: UInt64.self))
                let size = Int(truncatingIfNeeded: pointer.loadUnaligned(fromByteOffset: header + 0x20, as: UInt64.self))
                guard offset >= 0, size >= 0, offset <= maximumSize, size <= maximumSize else { return .failure(DriverFailure(CUresult.invalidImage)) }
                if type != 8 { end = max(end, offset + size) }  // SHT_NOBITS occupies no bytes
            }
            return .success((UnsafeRawBufferPointer(start: pointer, count: end), .elf))
        default:
            // PTX text up to its NUL; anything else fails to parse at the node.
            let n = strnlen(pointer.assumingMemoryBound(to: CChar.self), maximumSize)
            guard n > 0, n < maximumSize else { return .failure(DriverFailure(CUresult.invalidImage)) }
            return .success((UnsafeRawBufferPointer(start: pointer, count: n + 1), .ptx))
        }
    }

    /// A copy of the image the core's records own for the life of the process. The copy goes through the
    /// kernel (process_vm_readv on this process), so an image whose header claims more bytes than are mapped
    /// fails with `CUDA_ERROR_INVALID_IMAGE` instead of crashing the program.
    static func copy(_ pointer: UnsafeRawPointer) -> Result<(FatbinRecord, Kind), DriverFailure> {
        locate(pointer).flatMap { bytes, kind in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
            let n = tessera_copy_readable(copy.baseAddress, bytes.baseAddress, bytes.count)
            guard n == bytes.count else {
                copy.deallocate()
                Log.once("image:unreadable", "a module image claims \(bytes.count) bytes that are not all readable")
                return .failure(DriverFailure(CUresult.invalidImage))
            }
            return .success((FatbinRecord(image: UnsafeRawBufferPointer(copy)), kind))
        }
    }

    /// Reads a module file (cuModuleLoad, cuLibraryLoadFromFile).
    static func read(path: UnsafePointer<CChar>) -> Result<[UInt8], DriverFailure> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return .failure(DriverFailure(CUresult.fileNotFound)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return .failure(DriverFailure(CUresult.fileNotFound)) }
            if n == 0 { break }
            bytes += chunk[..<n]
            guard bytes.count < maximumSize else { return .failure(DriverFailure(CUresult.invalidImage)) }
        }
        bytes.append(0)  // PTX files carry no NUL of their own
        return .success(bytes)
    }
}
