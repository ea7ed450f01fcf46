/// Reads the fatbinary containers nvcc embeds in programs and picks the PTX the simulator runs.
public enum Fatbinary {
    /// Magic of a fatbinary container (`.nv_fatbin` data; what `nvcc -fatbin` writes).
    public static let containerMagic: UInt32 = FatbinaryContainer.magic
    /// Magic of the in-process wrapper (`__fatBinC_Wrapper_t`) that `__cudaRegisterFatBinary` receives.
    public static let wrapperMagic: UInt32 = 0x4662_43B1
    /// The largest container payload or decompressed entry accepted; larger claims are treated as corrupt.
    public static let maximumPayloadSize = 1 << 30

    /// The PTX text best suited to a device of compute capability `smVersion` (e.g. 90): the highest PTX
    /// architecture not above it (arch-specific PTX only on its exact SM), else the lowest generic PTX above it.
    /// Decompresses only that entry.
    /// - Throws: `.invalidImage` for malformed or truncated input, `.noKernelImage` when no PTX fits,
    ///   `.notSupported` for an unknown compression flag or container version.
    public static func ptx(fromContainer bytes: UnsafeRawBufferPointer, smVersion: Int) throws(SimError) -> String {
        if bytes.count >= 4, bytes.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: wrapperMagic) {
            throw SimError(.invalidImage, "this is a fatbinary wrapper (magic 0x466243b1), not a container; resolve it with Fatbinary.container(fromWrapper:)")
        }
        let parsed = try FatbinaryContainer.parse(bytes)
        // A simulated GPU interprets the portable PTX ISA, so generic PTX for a newer architecture is a usable
        // last resort (libraries such as CuPy's CUB ship only their newest PTX): the lowest such entry is
        // taken, and an instruction the simulator does not implement fails the load by name.
        let newer = parsed.entries.filter { $0.kind == .ptx && $0.arch > smVersion && !$0.flags.contains(.archSpecific) && !$0.flags.contains(.familySpecific) }
            .min { ($0.arch, $0.index) < ($1.arch, $1.index) }
        guard let best = FatbinaryContainer.bestPTXEntry(in: parsed.entries, forSM: smVersion) ?? newer else {
            let held = parsed.entries.isEmpty ? "no entries" : parsed.entries.map(\.description).joined(separator: ", ")
            throw SimError(.noKernelImage, "fatbinary has no PTX for sm_\(smVersion) (it holds \(held))")
        }
        let payload = try FatbinaryContainer.payload(of: best, in: bytes)
        return try FatbinaryContainer.ptxText(fromPayload: payload, entry: best)
    }

    /// The container a `__fatBinC_Wrapper_t` (`u32 magic, u32 version, const u64* data, void* filename`)
    /// points to, as `__cudaRegisterFatBinary` receives it inside the program's own address space.
    /// - Parameter wrapper: must point to a live wrapper; the memory it refers to is trusted, as in CUDA.
    public static func container(fromWrapper wrapper: UnsafeRawPointer) throws(SimError) -> UnsafeRawBufferPointer {
        let magic = UInt32(littleEndian: wrapper.loadUnaligned(as: UInt32.self))
        guard magic == wrapperMagic else {
            throw SimError(.invalidImage, "not a fatbinary wrapper: magic 0x\(String(magic, radix: 16)), expected 0x466243b1")
        }
        let version = UInt32(littleEndian: wrapper.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard version == 1 || version == 2 else { throw SimError(.notSupported, "fatbinary wrapper version \(version)") }
        guard let data = wrapper.loadUnaligned(fromByteOffset: 8, as: UnsafeRawPointer?.self) else {
            throw SimError(.invalidImage, "fatbinary wrapper has no data pointer")
        }
        let header = UnsafeRawBufferPointer(start: data, count: 16)
        guard header.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: containerMagic) else {
            throw SimError(.invalidImage, "fatbinary wrapper points to something that is not a container")
        }
        let headerSize = Int(UInt16(littleEndian: header.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        let payloadSize = UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard headerSize >= 16, payloadSize <= UInt64(maximumPayloadSize) else {
            throw SimError(.invalidImage, "fatbinary container header is corrupt (header \(headerSize) bytes, payload \(payloadSize))")
        }
        return UnsafeRawBufferPointer(start: data, count: headerSize + Int(payloadSize))
    }
}
