import Testing
@testable import TesseraSim

/// The fatbinary reader against real nvcc 13.5 output, CUDA 12-style LZ4 entries, and hostile input.
@Suite struct FatbinaryTests {
    static let source = "vector_add.cu"

    func container(_ variant: CUDACompiler.Variant) throws -> FatbinaryContainer {
        try FatbinaryContainer(CUDACompiler.compile(Self.source, variant))
    }

    func ptx(_ bytes: [UInt8], sm: Int) throws(SimError) -> String {
        let result = bytes.withUnsafeBytes { b in Result { () throws(SimError) in try Fatbinary.ptx(fromContainer: b, smVersion: sm) } }
        return try result.get()
    }

    func expectError(_ code: SimError.Code, _ bytes: [UInt8], sm: Int = 90, mentioning text: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let text = try ptx(bytes, sm: sm)
            Issue.record("expected \(code), got \(text.count) characters of PTX", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let text { #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation) }
        }
    }

    @Test func defaultOutputHasSASSAndZstdPTX() throws {
        let fatbin = try container(.fatbin)
        #expect(fatbin.version == 1)
        #expect(fatbin.entries.count == 2)
        let elf = try #require(fatbin.entries.first { $0.kind == .elf })
        #expect(elf.arch == 75 && elf.compression == .none && elf.flags.contains(.is64Bit))
        #expect(try fatbin.payload(of: elf).prefix(4) == [0x7F, 0x45, 0x4C, 0x46])
        let ptxEntry = try #require(fatbin.entries.first { $0.kind == .ptx })
        #expect(ptxEntry.arch == 75 && ptxEntry.compression == .zstd)
        #expect(ptxEntry.versionMajor >= 9)
        let text = try fatbin.ptxText(of: ptxEntry)
        #expect(text.contains(".target sm_75"))
        #expect(text.contains(".entry vector_add("))
        #expect(!text.contains("\0"))
        #expect(try ptx(fatbin.bytes, sm: 90) == text)
    }

    @Test func uncompressedAndCompressedPTXAgree() throws {
        let plain = try container(.fatbinUncompressed)
        let entry = try #require(plain.bestPTXEntry(forSM: 90))
        #expect(entry.compression == .none)
        let expected = try plain.ptxText(of: entry)
        // nvcc strips comments and collapses white space in the PTX it embeds; the code is what `nvcc -ptx` writes.
        #expect(Self.codeLines(expected) == Self.codeLines(try CUDACompiler.ptx(Self.source, arch: 75)))
        for mode in ["size", "balance", "speed"] {
            let compressed = try container(.fatbinWith(["-compress-mode=\(mode)"]))
            let best = try #require(compressed.bestPTXEntry(forSM: 90))
            #expect(best.compression == (mode == "speed" ? .lz4 : .zstd), "mode \(mode)")
            #expect(try compressed.ptxText(of: best) == expected, "mode \(mode)")
        }
    }

    static func codeLines(_ ptx: String) -> [String] {
        ptx.split(separator: "\n")
            .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            .filter { !$0.isEmpty && !$0.hasPrefix("//") }
    }

    static let multiArch = CUDACompiler.Variant.fatbinWith([
        "-gencode", "arch=compute_75,code=[sm_75,compute_75]",
        "-gencode", "arch=compute_80,code=compute_80",
        "-gencode", "arch=compute_90,code=[sm_90,compute_90]",
    ])

    @Test(arguments: [(75, 75), (80, 80), (86, 80), (89, 80), (90, 90), (120, 90)])
    func multiArchPicksHighestPTXNotAboveDevice(sm: Int, expected: Int) throws {
        let fatbin = try container(Self.multiArch)
        #expect(fatbin.entries.map(\.kind) == [.elf, .ptx, .ptx, .elf, .ptx])
        let best = try #require(fatbin.bestPTXEntry(forSM: sm))
        #expect(best.arch == expected)
        #expect(try ptx(fatbin.bytes, sm: sm).contains(".target sm_\(expected)"))
    }

    /// The simulator interprets portable PTX: when nothing fits a device, generic PTX for a newer architecture
    /// (the lowest one) is the last resort, as CuPy's CUB library ships only compute_120 PTX.
    @Test func olderDeviceFallsBackToLowestNewerPTX() throws {
        #expect(try ptx(try container(Self.multiArch).bytes, sm: 70).contains(".target sm_75"))
    }

    @Test func noPTXInSASSOnlyImage() throws {
        let sassOnly = try container(.fatbinWith(["-gencode", "arch=compute_75,code=sm_75"]))
        #expect(sassOnly.entries.map(\.kind) == [.elf])
        expectError(.noKernelImage, sassOnly.bytes, sm: 75)
    }

    @Test func concatenatedGroupsAreSplitIntoMembers() throws {
        let fatbin = try container(.fatbinWith([
            "--concat",
            "-gencode", "arch=compute_75,code=[sm_75,compute_75]",
            "-gencode", "arch=compute_86,code=compute_86",
            "-gencode", "arch=compute_90,code=[sm_90,compute_90]",
        ]))
        let members = fatbin.entries.filter(\.isConcatenated)
        #expect(members.filter { $0.kind == .ptx }.map(\.arch) == [75, 86, 90])
        #expect(members.filter { $0.kind == .elf }.map(\.arch) == [75, 90])
        for entry in fatbin.entries where entry.kind == .ptx {
            let text = try fatbin.ptxText(of: entry)
            #expect(text.contains(".target sm_\(entry.arch)"))
            #expect(text.contains(".entry vector_add("))
        }
        for entry in fatbin.entries where entry.kind == .elf {
            #expect(try fatbin.payload(of: entry).prefix(4) == [0x7F, 0x45, 0x4C, 0x46])
        }
        #expect(try ptx(fatbin.bytes, sm: 89).contains(".target sm_86"))
        let speed = try container(.fatbinWith(["--concat", "-compress-mode=speed", "-gencode", "arch=compute_75,code=compute_75", "-gencode", "arch=compute_90,code=compute_90"]))
        #expect(speed.entries.map(\.compression) == [.lz4, .lz4])
        #expect(try speed.ptxText(of: try #require(speed.bestPTXEntry(forSM: 90))).contains(".target sm_90"))
    }

    @Test func archAndFamilySpecificPTXRunOnlyWhereAllowed() throws {
        let fatbin = try container(.fatbinWith([
            "-gencode", "arch=compute_86,code=compute_86",
            "-gencode", "arch=compute_90a,code=compute_90a",
            "-gencode", "arch=compute_100f,code=compute_100f",
        ]))
        let specific = try #require(fatbin.entries.first { $0.arch == 90 })
        #expect(specific.flags.contains(.archSpecific))
        #expect(fatbin.entries.first { $0.arch == 100 }?.flags.contains(.familySpecific) == true)
        #expect(fatbin.bestPTXEntry(forSM: 90)?.arch == 90)
        #expect(fatbin.bestPTXEntry(forSM: 89)?.arch == 86)
        #expect(fatbin.bestPTXEntry(forSM: 100)?.arch == 100)
        #expect(fatbin.bestPTXEntry(forSM: 103)?.arch == 100)
        #expect(fatbin.bestPTXEntry(forSM: 120)?.arch == 86)
    }

    @Test func debugBuildRecordsNameAndOptions() throws {
        let fatbin = try container(.fatbinWith(["-G"]))
        let entry = try #require(fatbin.bestPTXEntry(forSM: 90))
        #expect(entry.flags.contains(.debug))
        #expect(entry.name?.hasSuffix("vector_add.cu") == true)
        #expect(String(decoding: entry.options, as: UTF8.self).contains("-g"))
        #expect(try fatbin.ptxText(of: entry).contains(".entry vector_add("))
    }

    // MARK: LZ4 (CUDA 12 libraries)

    /// A CUDA 12-style entry: the PTX text and its NUL as one raw LZ4 block, padded to 8 bytes, flag 0x2000.
    func lz4Container() throws -> (bytes: [UInt8], text: String) {
        let plain = try container(.fatbinUncompressed)
        let entry = try #require(plain.bestPTXEntry(forSM: 90))
        var text = try plain.payload(of: entry)
        let nul = try #require(text.firstIndex(of: 0))
        text = Array(text[...nul])
        let block = LZ4TestEncoder.encode(text)
        #expect(block.count < text.count)
        let bytes = FatbinaryPatch.replacePayload(of: entry, in: plain.bytes, stored: block, uncompressedSize: text.count, addingFlags: 0x2000)
        return (bytes, String(decoding: text.dropLast(), as: UTF8.self))
    }

    func decodeLZ4(_ block: [UInt8], uncompressedSize: Int) throws(SimError) -> [UInt8] {
        let result = block.withUnsafeBytes { b in Result { () throws(SimError) in try LZ4Block.decode(b, uncompressedSize: uncompressedSize) } }
        return try result.get()
    }

    @Test func cuda12StyleLZ4EntriesDecode() throws {
        let (bytes, text) = try lz4Container()
        let fatbin = try FatbinaryContainer(bytes)
        #expect(fatbin.bestPTXEntry(forSM: 90)?.compression == .lz4)
        #expect(try ptx(bytes, sm: 90) == text)
    }

    @Test func lz4BlockHandlesLongLengthsAndOverlappingMatches() throws {
        // 302 literals (15 + 255 + 32), then "ab" repeated by an offset-2 match of 600 bytes (overlapping copy).
        let literals = (0..<300).map { UInt8($0 % 251) } + [0x61, 0x62]
        var block: [UInt8] = [0xFF, 255, 32] + literals
        block += [2, 0, 255, 255, 71]  // match 600 = 4 + 15 + 255 + 255 + 71
        block += [0x30, 0x78, 0x79, 0x7A]
        let expected = literals + (0..<600).map { $0 % 2 == 0 ? 0x61 : 0x62 } + [0x78, 0x79, 0x7A]
        let decoded = try decodeLZ4(block, uncompressedSize: expected.count)
        #expect(decoded == expected)
        let source = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * $0 >> 7) }
        let roundTrip = try decodeLZ4(LZ4TestEncoder.encode(source), uncompressedSize: source.count)
        #expect(roundTrip == source)
    }

    @Test(arguments: [
        ([0x10] as [UInt8], "literals run past"),
        ([0x00, 0x01, 0x00], "before the output start"),
        ([0x10, 0x41, 0x05, 0x00], "before the output start"),
        ([0x1F, 0x41, 0x01, 0x00, 0xFF, 0xFF, 0xFF], "length"),
        ([0x10, 0x41, 0x01], "offset runs past"),
        ([0xF0, 0xFF], "length"),
    ])
    func corruptLZ4BlocksAreRejected(block: [UInt8], reason: String) {
        do {
            _ = try decodeLZ4(block, uncompressedSize: 64)
            Issue.record("decoded a corrupt block")
        } catch {
            #expect(error.code == .invalidImage)
            #expect(error.message.contains(reason), "\(error)")
        }
    }

    // MARK: Wrapper

    @Test func wrapperLeadsToItsContainer() throws {
        let fatbin = try container(.fatbin)
        let data = UnsafeMutableRawPointer.allocate(byteCount: fatbin.bytes.count + 64, alignment: 8)
        defer { data.deallocate() }
        fatbin.bytes.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var wrapper = (UInt32(0x4662_43B1), UInt32(1), UnsafeRawPointer(data), UnsafeRawPointer?.none)
        let resolved = try withUnsafeBytes(of: &wrapper) { w throws(SimError) in try Fatbinary.container(fromWrapper: w.baseAddress!) }
        #expect(resolved.count == fatbin.bytes.count)
        #expect(try Fatbinary.ptx(fromContainer: resolved, smVersion: 90).contains(".entry vector_add("))
        let wrapperBytes = withUnsafeBytes(of: &wrapper) { Array($0) }
        expectError(.invalidImage, wrapperBytes, mentioning: "wrapper")
    }

    // MARK: Hostile input

    @Test func everyTruncationIsRejectedCleanly() throws {
        for variant in [CUDACompiler.Variant.fatbin, .fatbinUncompressed] {
            let fatbin = try container(variant)
            let bytes = fatbin.bytes
            let entryStarts = Set(fatbin.entries.map(\.headerOffset))
            for length in 0..<bytes.count {
                expectError(.invalidImage, Array(bytes[..<length]))
                // The same cut with the container header shrunk to match: the entry walker meets the cut,
                // unless the cut falls between entries, which leaves a valid container without the PTX.
                if length >= 16 {
                    let shrunk = FatbinaryPatch.settingContainerPayload(Array(bytes[..<length]), to: length - 16)
                    expectError(entryStarts.contains(length) || length == 16 ? .noKernelImage : .invalidImage, shrunk)
                }
            }
        }
    }

    @Test func corruptedBytesNeverCrash() throws {
        var random = SplitMix64(seed: 0x7E55_E4A)
        let inputs = [try container(.fatbin).bytes, try container(.fatbinUncompressed).bytes, try container(Self.multiArch).bytes, try lz4Container().bytes]
        var rejected = 0
        for bytes in inputs {
            for round in 0..<600 {
                var corrupt = bytes
                // Headers are where offsets live: hit them often; payloads sometimes.
                let flips = 1 + Int(random.next() % 4)
                for _ in 0..<flips {
                    let position = round % 3 == 0 ? Int(random.next() % UInt64(corrupt.count)) : Int(random.next() % UInt64(min(corrupt.count, 200)))
                    corrupt[position] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                }
                do { _ = try ptx(corrupt, sm: 90) } catch { rejected += 1 }
            }
        }
        #expect(rejected > 0)
    }

    @Test func specificCorruptionsGetSpecificErrors() throws {
        let fatbin = try container(.fatbin)
        let entry = try #require(fatbin.bestPTXEntry(forSM: 90))
        let h = entry.headerOffset
        func patched(_ offset: Int, _ value: UInt64, _ width: Int) -> [UInt8] {
            FatbinaryPatch.store(value, at: offset, width: width, in: fatbin.bytes)
        }
        expectError(.invalidImage, patched(0, 0xDEAD_BEEF, 4), mentioning: "not a fatbinary container")
        expectError(.notSupported, patched(4, 2, 2), mentioning: "version")
        expectError(.invalidImage, patched(8, UInt64(fatbin.bytes.count), 8), mentioning: "truncated")
        expectError(.invalidImage, patched(h + 4, 40, 4), mentioning: "header size")
        expectError(.invalidImage, patched(h + 8, 1 << 40, 8), mentioning: "implausibly large")
        expectError(.invalidImage, patched(h + 16, 100_000, 4), mentioning: "compressed size")
        expectError(.invalidImage, patched(h + 56, 5000, 8), mentioning: "ZSTD")
        expectError(.invalidImage, patched(entry.payloadOffset + 20, 0xFF, 1), mentioning: "ZSTD")
        expectError(.invalidImage, patched(entry.payloadOffset, 0, 1), mentioning: "ZSTD frame")
        expectError(.notSupported, patched(h + 40, 0x4011, 8), mentioning: "unknown compression flag 0x4000")
        expectError(.notSupported, patched(h + 40, 0xA011, 8), mentioning: "0xa000")
        expectError(.invalidImage, [])
        expectError(.invalidImage, Array("not a fatbinary".utf8))
        // An empty container holds no kernels at all.
        expectError(.noKernelImage, FatbinaryPatch.settingContainerPayload(Array(fatbin.bytes[..<16]), to: 0), mentioning: "no entries")
    }
}
