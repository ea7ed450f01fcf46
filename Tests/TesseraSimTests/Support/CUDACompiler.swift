import Foundation
import Synchronization

/// Compiles the CUDA C++ sources under `Tests/TesseraSimTests/CUDA/` with a real nvcc and caches the output
/// under the package's `.build/`, keyed by a hash of nvcc, source and flags, so that reruns are instant.
///
/// nvcc comes from `TESSERA_NVCC` when set, otherwise from `scripts/setup-cuda.sh` (which installs it from
/// PyPI into `.venv-cuda/` on first use). Concurrent compiles of the same output, within this process or
/// across processes, are serialized by a lock file; outputs appear atomically by rename.
enum CUDACompiler {
    /// What to ask nvcc for.
    enum Variant: Sendable, Hashable, CustomStringConvertible {
        /// `nvcc -fatbin` with default options: sm_75 SASS plus ZSTD-compressed compute_75 PTX.
        case fatbin
        /// `nvcc -fatbin --no-compress`.
        case fatbinUncompressed
        /// `nvcc -fatbin` with extra options (e.g. `-gencode …`, `-compress-mode=speed`).
        case fatbinWith([String])
        /// `nvcc -ptx -arch=compute_<arch>`.
        case ptx(arch: Int)

        var arguments: [String] {
            switch self {
            case .fatbin: ["-fatbin"]
            case .fatbinUncompressed: ["-fatbin", "--no-compress"]
            case .fatbinWith(let extra): ["-fatbin"] + extra
            case .ptx(let arch): ["-ptx", "-arch=compute_\(arch)"]
            }
        }

        var fileExtension: String {
            if case .ptx = self { return "ptx" }
            return "fatbin"
        }

        var description: String { arguments.joined(separator: " ") }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // TesseraSimTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let sourceDirectory = packageRoot.appendingPathComponent("Tests/TesseraSimTests/CUDA")
    static let cacheDirectory = packageRoot.appendingPathComponent(".build/tessera-cuda-cache")

    /// The nvcc executable, located once per process.
    static let nvcc: Result<String, Failure> = {
        if let path = ProcessInfo.processInfo.environment["TESSERA_NVCC"], !path.isEmpty {
            return .success(path)
        }
        let script = packageRoot.appendingPathComponent("scripts/setup-cuda.sh").path
        switch run("/bin/bash", [script]) {
        case .success(let output):
            guard let path = output.split(separator: "\n").last.map(String.init),
                  FileManager.default.isExecutableFile(atPath: path) else {
                return .failure(Failure(description: "scripts/setup-cuda.sh printed no nvcc path:\n\(output)"))
            }
            return .success(path)
        case .failure(let failure):
            return .failure(failure)
        }
    }()

    /// Compiled bytes of `source` (a file name under `CUDA/`), compiling on a cache miss.
    static func compile(_ source: String, _ variant: Variant) throws -> [UInt8] {
        let nvcc = try nvcc.get()
        let sourceURL = sourceDirectory.appendingPathComponent(source)
        let sourceBytes = try Data(contentsOf: sourceURL)
        var key = CacheKey()
        key.add(Array("tessera-cuda-cache v1\0\(nvcc)\0\(variant.arguments.joined(separator: "\0"))\0".utf8))
        key.add(Array(sourceBytes))
        let stem = (source as NSString).deletingPathExtension
        let output = cacheDirectory.appendingPathComponent("\(stem)-\(key.hex).\(variant.fileExtension)")
        if let cached = try? Data(contentsOf: output) { return Array(cached) }

        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        return try withFileLock(output.path + ".lock") {
            if let cached = try? Data(contentsOf: output) { return Array(cached) }
            let temporary = output.path + ".tmp-\(getpid())"
            defer { unlink(temporary) }
            let arguments = variant.arguments + ["-Wno-deprecated-gpu-targets", "-o", temporary, sourceURL.path]
            _ = try run(nvcc, arguments).get()
            guard rename(temporary, output.path) == 0 else {
                throw Failure(description: "cannot move nvcc output into the cache: errno \(errno)")
            }
            return Array(try Data(contentsOf: output))
        }
    }

    /// PTX text of `source` for virtual architecture `arch`.
    static func ptx(_ source: String, arch: Int = 75) throws -> String {
        String(decoding: try compile(source, .ptx(arch: arch)), as: UTF8.self)
    }

    private static func withFileLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot open lock file \(path): errno \(errno)") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Failure(description: "cannot lock \(path): errno \(errno)") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Runs a program to completion; its output (stdout and stderr together) on success.
    private static func run(_ executable: String, _ arguments: [String]) -> Result<String, Failure> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return .failure(Failure(description: "cannot run \(executable): \(error)"))
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(Failure(description: "\(executable) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)):\n\(output)"))
        }
        return .success(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A 128-bit FNV-1a digest (two 64-bit lanes with different offsets): a stable cache key, not a security hash.
struct CacheKey {
    private var a: UInt64 = 0xcbf2_9ce4_8422_2325
    private var b: UInt64 = 0x6c62_272e_07bb_0142

    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 ^ (b >> 29)
        }
    }

    var hex: String {
        let left = String(a, radix: 16), right = String(b, radix: 16)
        return String(repeating: "0", count: 16 - left.count) + left + String(repeating: "0", count: 16 - right.count) + right
    }
}
