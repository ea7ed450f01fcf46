/// One entry of a fatbinary container: a PTX module or an ELF cubin for one architecture.
public struct FatbinaryEntry: Sendable, Hashable {
    /// What the entry holds.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// PTX assembly text (NUL-terminated, possibly padded).
        case ptx
        /// An ELF cubin (SASS) for one SM.
        case elf
        /// A kind this reader does not interpret (skipped when choosing PTX).
        case other(UInt16)

        init(raw: UInt16) {
            switch raw {
            case 1: self = .ptx
            case 2: self = .elf
            default: self = .other(raw)
            }
        }

        public var description: String {
            switch self {
            case .ptx: "PTX"
            case .elf: "ELF"
            case .other(let raw): "kind \(raw)"
            }
        }
    }

    /// How the entry's bytes are stored in the container.
    public enum Compression: Sendable, Hashable {
        case none
        /// A raw LZ4 block (flag 0x2000): CUDA 12 libraries, nvcc `-compress-mode=speed`.
        case lz4
        /// A ZSTD frame (flag 0x8000): nvcc 13's default.
        case zstd
        /// A compression flag combination this reader does not know.
        case unknown(UInt64)
    }

    /// Bit flags in an entry header.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let is64Bit = Flags(rawValue: 0x1)
        public static let debug = Flags(rawValue: 0x2)
        public static let linux = Flags(rawValue: 0x10)
        public static let lz4 = Flags(rawValue: 0x2000)
        public static let zstd = Flags(rawValue: 0x8000)
        /// Arch-specific code (`compute_90a`): runs only on exactly that SM.
        public static let archSpecific = Flags(rawValue: 0x10_0000)
        /// Family-specific code (`compute_100f`): runs on later SMs of the same major version.
        public static let familySpecific = Flags(rawValue: 0x20_0000)
        /// The bits that select a compression format (bits 13–15; 0x4000 has not been seen).
        public static let compressionMask = Flags(rawValue: 0xE000)
    }

    /// Index of the entry in container order (members of a concatenated group count individually).
    public var index: Int
    public var kind: Kind
    /// The SM (cubin) or virtual architecture (PTX) × 10 + minor, e.g. 75, 90, 100.
    public var arch: Int
    /// PTX ISA version for PTX entries (e.g. 9.5 → major 9, minor 5); ELF format version for cubins.
    public var versionMajor: Int
    public var versionMinor: Int
    public var flags: Flags
    /// The file name recorded with debug builds (`-G`), if any.
    public var name: String?
    /// Compiler options recorded in the header, if any (`-G` builds record ptxas options as text).
    public var options: [UInt8]
    /// The entry's bytes once decompressed.
    public var uncompressedSize: Int
    /// Bytes the entry (or the concatenated group holding it) occupies in the container after its header.
    public var storedSize: Int
    /// Whether the entry is a member of a `--concat` group whose members were compressed together.
    public var isConcatenated: Bool

    /// Where the bytes are: the header of the entry (or of its group), the stored (maybe compressed) payload
    /// and, for concatenated members, the slice of the group's uncompressed bytes.
    let headerOffset: Int
    let payloadOffset: Int
    let compressedSize: Int
    let groupUncompressedSize: Int
    let sliceOffset: Int

    /// How the payload is stored.
    public var compression: Compression {
        let bits = flags.rawValue & Flags.compressionMask.rawValue
        switch bits {
        case 0: return .none
        case Flags.lz4.rawValue: return .lz4
        case Flags.zstd.rawValue: return .zstd
        default: return .unknown(bits)
        }
    }

    /// Whether a device of compute capability `smVersion` (major × 10 + minor) can run this PTX.
    public func canRunPTX(onSM smVersion: Int) -> Bool {
        guard kind == .ptx, arch <= smVersion else { return false }
        if flags.contains(.archSpecific) { return arch == smVersion }
        if flags.contains(.familySpecific) { return arch / 10 == smVersion / 10 }
        return true
    }
}

extension FatbinaryEntry: CustomStringConvertible {
    public var description: String {
        let suffix = flags.contains(.archSpecific) ? "a" : flags.contains(.familySpecific) ? "f" : ""
        return "#\(index) \(kind) arch \(arch)\(suffix) v\(versionMajor).\(versionMinor) \(uncompressedSize) bytes \(compression)"
    }
}
