import ArgumentParser
import Foundation
import TesseraPoolAPI
import TesseraClientCore
import TesseraWire
#if canImport(Glibc)
import Glibc
#endif

/// `tessera run`: runs a CUDA program on vGPUs, with Tessera's runtime and driver in place of NVIDIA's
/// libcudart and libcuda.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a CUDA program on vGPUs of a Tessera node.",
        discussion: """
            The program loads Tessera's libcudart.so.13 / .so.12 and libcuda.so.1 instead of NVIDIA's (so programs
            built with nvcc's defaults, NVIDIA's own runtime, CuPy and Numba run too) and asks the node for its
            vGPUs at its first CUDA call. The request travels in the environment (\(VirtualGPUEnvironment.endpoint),
            \(VirtualGPUEnvironment.virtualGPUs), \(VirtualGPUEnvironment.memory), \(VirtualGPUEnvironment.compute),
            \(VirtualGPUEnvironment.computeMode), \(VirtualGPUEnvironment.wait)); options
            given here override it. Without --compute a vGPU is best effort: it reserves no compute share, runs on
            the GPU's idle time and is never refused for compute. With --wait, a request that does not fit now
            waits in its group's queue (its position is printed on stderr) instead of failing. Exits with the
            program's status.
            """
    )

    @Option(help: "Node endpoint: a unix socket path or HOST:PORT (default: $\(VirtualGPUEnvironment.endpoint) or \(VirtualGPUEnvironment.defaultEndpoint)).")
    var endpoint: String?

    @Option(help: "Number of vGPUs.")
    var vgpus: Int?

    @Option(help: "Memory of each vGPU (MiB/GiB units, e.g. 512MiB, 2GiB).")
    var memory: String?

    @Option(help: "Guaranteed compute share of each vGPU in percent (1–100); 0 or none: best effort.")
    var compute: Int?

    @Option(help: "Seconds to wait in the queue for room when the request does not fit now (default: $\(VirtualGPUEnvironment.wait) or 0).")
    var wait: Double?

    @Option(help: "How the compute share applies: share (idle GPU time is lent out) or limit (hard cap).")
    var computeMode: String?

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        var command = command
        if command.first == "--" { command.removeFirst() }
        guard let program = command.first else { throw ValidationError("name the program to run after --") }
        if let vgpus, !(1...WireProtocol.maxVirtualGPUs).contains(vgpus) {
            throw ValidationError("--vgpus must be 1…\(WireProtocol.maxVirtualGPUs)")
        }
        if let memory, VirtualGPUEnvironment.parseSize(memory) == nil {
            throw ValidationError("--memory: '\(memory)' is not a size like 512MiB or 2GiB (whole MiB)")
        }
        if let compute, !(0...100).contains(compute) { throw ValidationError("--compute must be 0…100 (0: best effort)") }
        if let wait, !(wait >= 0 && wait <= 86_400) { throw ValidationError("--wait must be 0…86400 seconds") }
        if let computeMode, ComputeMode(parsing: computeMode) == nil { throw ValidationError("--compute-mode must be share or limit") }

        let libraries = try RuntimeLibraries.locate()
        if let endpoint { setenv(VirtualGPUEnvironment.endpoint, endpoint, 1) }
        // The pool CA (what `tessera up` wrote to the CLI's config), so the program verifies nodes it reaches over
        // TCP — its own endpoint or other nodes' vGPUs — unless TESSERA_CA already names a bundle.
        if ControllerClient.environmentCAFile == nil,
           let data = FileManager.default.contents(atPath: PoolOptions.configPath),
           let caFile = (try? JSONDecoder().decode(PoolOptions.ConfigFile.self, from: data))?.caFile {
            setenv("TESSERA_CA", caFile, 1)
        }
        if let vgpus { setenv(VirtualGPUEnvironment.virtualGPUs, "\(vgpus)", 1) }
        if let memory { setenv(VirtualGPUEnvironment.memory, memory, 1) }
        if let compute { setenv(VirtualGPUEnvironment.compute, "\(compute)", 1) }
        if let computeMode { setenv(VirtualGPUEnvironment.computeMode, computeMode.lowercased(), 1) }
        if let wait { setenv(VirtualGPUEnvironment.wait, "\(wait)", 1) }
        let existing = getenv("LD_LIBRARY_PATH").map { String(cString: $0) }
        setenv("LD_LIBRARY_PATH", existing.map { "\(libraries):\($0)" } ?? libraries, 1)
        configurePTXClientsIfSimulated(libraries: libraries)

        // Become the program: its exit status and signals are ours. `run()` executes on a concurrency worker
        // thread, which blocks asynchronous signals; exec keeps the calling thread's mask, so without this the
        // program would ignore SIGTERM and Ctrl-C for ever.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, nil)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
        argv.append(nil)
        execvp(program, &argv)
        let code: Int32 = errno == ENOENT ? 127 : 126
        let message = "tessera run: cannot run \(program): \(String(cString: strerror(errno)))\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        throw ExitCode(code)
    }
}

extension RunCommand {
    /// Asks the node (one status question, no session) whether its GPUs are simulated; if every one is, the
    /// program's frameworks are told to hand the device PTX (`VirtualGPUEnvironment.ptxClientSettings`). Decided
    /// from the node's answer only: an unreachable node, a node with no GPUs of its own, or one that does not
    /// say changes nothing.
    private func configurePTXClientsIfSimulated(libraries: String) {
        let target = getenv(VirtualGPUEnvironment.endpoint).map { String(cString: $0) } ?? VirtualGPUEnvironment.defaultEndpoint
        guard let status = NodeProbe.status(of: target), !status.gpus.isEmpty,
              status.gpus.allSatisfy({ $0.simulated == true }) else { return }
        let current = { (name: String) in getenv(name).map { String(cString: $0) } }
        let settings = VirtualGPUEnvironment.ptxClientSettings(jitLinkStandIn: "\(libraries)/ptx-only/\(RuntimeLibraries.jitLinkSoname)", current: current)
        for (name, value) in settings { setenv(name, value, 1) }
    }
}

struct RunError: Error, CustomStringConvertible {
    var description: String
    var status: Int32
    init(_ d: String, status: Int32) { description = d; self.status = status }
}

/// Finds Tessera's runtime next to the `tessera` executable and exposes it under NVIDIA's sonames.
enum RuntimeLibraries {
    /// A directory holding libcudart.so.13, libcudart.so.12 and libcuda.so.1 links to Tessera's libraries.
    static func locate() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw RunError("cannot find the tessera executable", status: 1) }
        let exe = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let dir = String(exe[..<exe.lastIndex(of: "/")!])
        for library in links.values where access("\(dir)/\(library)", R_OK) != 0 {
            throw RunError("Tessera's CUDA library \(library) is missing next to \(exe); build it with `swift build`", status: 1)
        }
        // The links live beside the libraries (created once); a read-only install falls back to a per-user cache.
        // The nvJitLink stand-in sits in a folder of its own: it is preloaded for simulated GPUs only, never
        // found through the library path.
        for links in ["\(dir)/cudart", "/tmp/tessera-cudart-\(getuid())"] {
            if makeLinks(in: links, target: dir, links: Self.links),
               makeLinks(in: "\(links)/ptx-only", target: dir, links: [jitLinkSoname: "libTesseraJitLinkStandIn.so"]) {
                return links
            }
        }
        throw RunError("cannot create libcudart links for Tessera's runtime", status: 1)
    }

    /// NVIDIA's sonames and the Tessera library behind each: the runtime's two, and the driver's, which
    /// programs with NVIDIA's own runtime (nvcc's default static build, `libcudart.so` from NVIDIA) and
    /// frameworks (CuPy, Numba) load.
    static let links = [
        "libcudart.so.13": "libTesseraCudart13.so",
        "libcudart.so.12": "libTesseraCudart12.so",
        "libcuda.so.1": "libTesseraCuda.so",
    ]

    /// The soname of NVIDIA's JIT linker, which Tessera's stand-in takes (see `Sources/CJitLinkStandIn`).
    static let jitLinkSoname = "libnvJitLink.so.13"

    private static func makeLinks(in directory: String, target: String, links: [String: String]) -> Bool {
        mkdir(directory, 0o755)
        for (soname, file) in links.sorted(by: { $0.key < $1.key }) {
            let link = "\(directory)/\(soname)", library = "\(target)/\(file)"
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink(link, &buffer, buffer.count - 1)
            if n > 0, String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == library { continue }
            // Replace atomically so concurrent `tessera run`s never see a missing link.
            let temporary = "\(link).\(getpid())"
            guard symlink(library, temporary) == 0, rename(temporary, link) == 0 else {
                unlink(temporary)
                return false
            }
        }
        return true
    }
}
