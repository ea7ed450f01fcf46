import ArgumentParser
import Foundation
import TesseraPoolAPI

/// `tessera demo`: a classroom on a pool of simulated GPUs. Builds the CUDA samples when absent, starts a
/// controller and two nodes as child processes, runs a dozen student programs at once with different slices
/// (some asking for more than fits, one killed mid-run), shows the pool live, and ends with a summary and checks.
/// Leaves no process behind.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "A classroom of CUDA programs on a pool of simulated GPUs.")

    @Flag(help: "Do not redraw the live view (for logs).") var plain = false

    @Flag(help: "Leave the pool (controller, nodes, dashboard) up after the class, until Ctrl-C.") var keep = false

    struct Student {
        var name: String
        var node: Int
        var program: String
        var arguments: [String]
        var memory: String
        var compute: Int
        var expect: Expectation
        var vgpus = 1
        /// Runs `program` (a script under `samples/`) with this interpreter instead of as a sample binary.
        var interpreter: String?
        /// What the program prints when it succeeded.
        var successMarker = "OK"
        enum Expectation { case success, refusal, killed }
    }

    final class Child: @unchecked Sendable {
        let process = Process()
        let log: URL
        init(_ exe: String, _ args: [String], log: URL) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = args
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            Interruption.shared.track(process.processIdentifier)
        }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        func stop(_ signal: Int32 = SIGTERM) {
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
        }
    }

    /// SIGINT or SIGTERM while the class runs: every child (controller, nodes, students) is stopped and the
    /// pool's folder removed before the demo exits, so that nothing is left running. While `--keep` waits
    /// (`waitForInterrupt`), the signal ends the wait instead and the demo stops its children as usual.
    final class Interruption: @unchecked Sendable {
        static let shared = Interruption()
        private let lock = NSLock()
        private var pids: [Int32] = []
        private var waiter: (@Sendable () -> Void)?
        private var sources: [any DispatchSourceSignal] = []

        func track(_ pid: Int32) { lock.lock(); pids.append(pid); lock.unlock() }

        /// Calls `resume` (once) on the next SIGINT or SIGTERM instead of exiting.
        func onNextSignal(_ resume: @escaping @Sendable () -> Void) { lock.lock(); waiter = resume; lock.unlock() }

        /// Installs the handlers (one source per signal); `folder` is removed on the way out.
        func install(removing folder: URL) {
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            sources = [SIGINT, SIGTERM].map { sig in
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [self] in
                    lock.lock()
                    let (resume, children) = (waiter, pids)
                    waiter = nil
                    lock.unlock()
                    if let resume { return resume() }
                    for pid in children.reversed() { kill(pid, SIGTERM) }
                    for pid in children.reversed() { var status: Int32 = 0; waitpid(pid, &status, 0) }
                    try? FileManager.default.removeItem(at: folder)
                    Foundation.exit(128 + sig)
                }
                source.resume()
                return source
            }
        }
    }

    /// Returns on SIGINT or SIGTERM (so that the children are stopped on the way out).
    static func waitForInterrupt() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Interruption.shared.onNextSignal { c.resume() }
        }
    }

    func run() async throws {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let buildDir = exe.deletingLastPathComponent()
        var root = buildDir
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("samples/build.sh").path) {
            guard root.path != "/" else { throw ValidationError("cannot find samples/build.sh above \(buildDir.path); run from a Tessera checkout") }
            root = root.deletingLastPathComponent()
        }
        print("== building the CUDA samples (the first run installs NVIDIA's compiler from PyPI; no GPU needed) …")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/bin/bash")
        build.arguments = [root.appendingPathComponent("samples/build.sh").path, buildDir.path]
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0 else { throw ValidationError("building the samples failed (samples/build.sh)") }
        let bin = root.appendingPathComponent("samples/bin")
        print("== installing CuPy from PyPI for the Python student (first run only) …")
        let python = try Self.pythonWithCuPy(root: root)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-demo-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("demo-admin\n".utf8).write(to: dir.appendingPathComponent("admin.tokens"))
        try Data("demo-node\n".utf8).write(to: dir.appendingPathComponent("node.tokens"))
        Interruption.shared.install(removing: dir)
        var children: [Child] = []
        defer {
            for c in children.reversed() { c.stop() }
            try? FileManager.default.removeItem(at: dir)
        }
        print("== starting a pool: controller + 2 nodes, each with 2 simulated GPUs of 2 GiB")
        let controller = try Child(exe.path, ["controller", "--listen", "127.0.0.1:0", "--state", dir.appendingPathComponent("pool.sqlite").path,
                                              "--admin-token-file", dir.appendingPathComponent("admin.tokens").path,
                                              "--node-token-file", dir.appendingPathComponent("node.tokens").path,
                                              "--node-timeout", "3", "--log-level", "notice"],
                                   log: dir.appendingPathComponent("controller.log"))
        children.append(controller)
        var url = ""
        for _ in 0..<300 where url.isEmpty {
            if let r = controller.output.range(of: "listening on 127.0.0.1:") {
                let port = controller.output[r.upperBound...].prefix { $0.isNumber }
                if !port.isEmpty { url = "https://127.0.0.1:\(port)" }
            }
            if url.isEmpty { usleep(50_000) }
        }
        guard !url.isEmpty else { throw ValidationError("the controller did not start:\n\(controller.output)") }
        // Every TCP hop is TLS: the controller made its CA in the state folder; the nodes and the students'
        // programs (lin's reaches node-2 over TCP) verify the API and each other against it.
        let caFile = dir.appendingPathComponent("ca.pem").path
        setenv("TESSERA_CA", caFile, 1)
        let client = ControllerClient(baseURL: url, token: "demo-admin", caFile: caFile)
        print("== dashboard: \(url)/  (sign in with the admin token 'demo-admin'; the pool CA is \(caFile))")
        var sockets: [String] = []
        for (i, model) in ["h100", "a100"].enumerated() {
            let socket = dir.appendingPathComponent("node-\(i + 1).sock").path
            sockets.append(socket)
            children.append(try Child(exe.path, ["node", "--controller", url, "--node-token-file", dir.appendingPathComponent("node.tokens").path,
                                                 "--name", "node-\(i + 1)", "--socket", socket, "--listen", "127.0.0.1:0",
                                                 "--sim-gpus", "2", "--sim-gpu-memory", "2GiB", "--sim-gpu-model", model,
                                                 "--heartbeat-interval", "0.5", "--log-level", "warning"],
                                      log: dir.appendingPathComponent("node-\(i + 1).log")))
        }
        for _ in 0..<200 {
            if let nodes = try? await client.get("/v1/nodes", as: [NodeInfo].self), nodes.filter({ $0.state == .up }).count == 2 { break }
            usleep(50_000)
        }

        let students: [Student] = [
            // Three vGPUs of 1.5 GiB need three of the four 2 GiB GPUs: two on node-1, one on node-2. The program
            // sees devices 0…2, runs a kernel on each and copies between them.
            Student(name: "lin", node: 0, program: "multigpu", arguments: ["3", "1536"], memory: "1536MiB", compute: 20, expect: .success,
                    vgpus: 3),
            Student(name: "ada", node: 0, program: "vadd", arguments: ["200000", "20"], memory: "256MiB", compute: 25, expect: .success),
            // Built with nvcc's defaults: NVIDIA's static runtime, reaching the vGPU through Tessera's libcuda.so.1.
            Student(name: "alan", node: 0, program: "static/vadd", arguments: ["100000", "30"], memory: "512MiB", compute: 10, expect: .success),
            Student(name: "grace", node: 0, program: "memops", arguments: [], memory: "64MiB", compute: 5, expect: .success),
            Student(name: "edsger", node: 0, program: "streams", arguments: [], memory: "256MiB", compute: 20, expect: .success),
            Student(name: "barbara", node: 0, program: "hold", arguments: ["64"], memory: "128MiB", compute: 10, expect: .killed),
            Student(name: "donald", node: 0, program: "vadd", arguments: ["50000", "10"], memory: "3GiB", compute: 50, expect: .refusal),
            // Training-loop stand-ins that keep their slices busy for seconds, so the dashboard and top show slices
            // sharing GPUs while the rest of the class comes and goes.
            Student(name: "katherine", node: 0, program: "busy", arguments: ["8", "2000"], memory: "256MiB", compute: 20, expect: .success,
                    successMarker: "KERNELS"),
            Student(name: "mary", node: 1, program: "busy", arguments: ["6", "2000"], memory: "384MiB", compute: 30, expect: .success,
                    successMarker: "KERNELS"),
            Student(name: "margaret", node: 1, program: "vadd", arguments: ["200000", "20"], memory: "1GiB", compute: 40, expect: .success),
            Student(name: "john", node: 1, program: "symbols", arguments: [], memory: "64MiB", compute: 5, expect: .success),
            Student(name: "frances", node: 1, program: "memops", arguments: [], memory: "128MiB", compute: 15, expect: .success),
            Student(name: "ken", node: 1, program: "static/streams", arguments: [], memory: "512MiB", compute: 30, expect: .success),
            Student(name: "dennis", node: 1, program: "vadd", arguments: ["1000", "1"], memory: "8GiB", compute: 10, expect: .refusal),
            Student(name: "radia", node: 1, program: "memops", arguments: [], memory: "2049MiB", compute: 20, expect: .refusal),
            // CuPy from PyPI, unchanged: arrays, CUB reductions, NVRTC-compiled kernels, through Tessera's libcuda.so.1.
            Student(name: "guido", node: 0, program: "python/cupy_check.py", arguments: [], memory: "512MiB", compute: 30, expect: .success,
                    interpreter: python, successMarker: "cupy: all checks passed"),
        ]
        print("== class starts: \(students.count) students at once")
        var running: [(Student, Child)] = []
        for s in students {
            let program = s.interpreter.map { [$0, root.appendingPathComponent("samples/\(s.program)").path] }
                ?? [bin.appendingPathComponent(s.program).path]
            let args = ["run", "--endpoint", sockets[s.node], "--vgpus", "\(s.vgpus)", "--memory", s.memory, "--compute", "\(s.compute)", "--"]
                + program + s.arguments
            running.append((s, try Child(exe.path, args, log: dir.appendingPathComponent("student-\(s.name).log"))))
            if s.expect == .refusal { usleep(300_000) }  // let the others take their slices first
            if s.vgpus > 1 {
                // The big job takes its slices first (it is over in a moment), so the rest of the class fits after it.
                for _ in 0..<100 where running.last!.1.process.isRunning { usleep(50_000) }
            }
        }
        children.append(contentsOf: running.map(\.1))
        var killedAt: Date?
        let start = Date()
        var peakLeases = 0
        while running.contains(where: { $0.1.process.isRunning && $0.0.expect != .killed }) || killedAt == nil {
            if let snap = try? await client.get("/v1/snapshot", as: PoolSnapshot.self) {
                peakLeases = max(peakLeases, snap.leases.count)
                let view = TopCommand.render(snap)
                print(plain ? String(view.drop { $0 != "t" }) : view, terminator: "")
                fflush(nil)
            }
            if killedAt == nil, Date().timeIntervalSince(start) > 3, let victim = running.first(where: { $0.0.expect == .killed }) {
                print("\n== killing \(victim.0.name)'s program mid-run (SIGKILL)")
                kill(victim.1.process.processIdentifier, SIGKILL)
                killedAt = Date()
            }
            if Date().timeIntervalSince(start) > 240 { print("== time is up"); break }
            try await Task.sleep(for: .seconds(1))
        }
        for (_, c) in running { c.process.waitUntilExit() }
        // Wait for the pool to notice the killed program and the finished ones.
        var leftover: [Lease] = []
        for _ in 0..<100 {
            leftover = (try? await client.get("/v1/leases", as: [Lease].self)) ?? []
            if leftover.isEmpty { break }
            usleep(100_000)
        }

        // Where lin's job ran: the lease granted across nodes and the node it attached to.
        let events = (try? await client.get("/v1/events", as: [PoolEvent].self)) ?? []
        let attached = events.filter { $0.kind == "lease-attached" }
        let spanning = events.first { e in
            e.kind == "lease-granted" && attached.contains { $0.message.hasPrefix(e.message.prefix { $0 != " " } + " ") }
        }

        print("\n== summary")
        printTable(["STUDENT", "NODE", "PROGRAM", "ASKED", "RESULT", "CHECK"], running.map { s, c in
            let out = c.output
            let result: String
            let ok: Bool
            switch s.expect {
            case .success:
                ok = c.process.terminationStatus == 0 && out.contains(s.successMarker)
                result = ok ? "ran OK" : "failed (\(c.process.terminationStatus))"
            case .refusal:
                ok = c.process.terminationStatus != 0 && (out.contains("refused") || out.contains("cannot place"))
                result = ok ? "refused: does not fit" : "not refused"
            case .killed:
                ok = c.process.terminationReason == .uncaughtSignal
                result = ok ? "killed mid-run, released" : "not killed"
            }
            let asked = s.vgpus > 1 ? "\(s.vgpus) × \(s.memory), \(s.compute) %" : "\(s.memory), \(s.compute) %"
            return [s.name, "node-\(s.node + 1)", s.interpreter == nil ? s.program : String(s.program.split(separator: "/").last ?? ""), asked, result, ok ? "pass" : "FAIL"]
        })
        if let spanning {
            let vgpus = spanning.message.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces)
            print("lin's program ran on vGPUs of two nodes as devices 0…2: \(vgpus)")
            for a in attached { print("  \(a.message)") }
        }
        let checks = [
            ("every student's program ran, was refused or was killed as intended", running.allSatisfy { s, c in
                switch s.expect {
                case .success: c.process.terminationStatus == 0
                case .refusal: c.process.terminationStatus != 0
                case .killed: c.process.terminationReason == .uncaughtSignal
                }
            }),
            ("lin's program used vGPUs of both nodes (node-1's two GPUs and one on node-2, attached directly)",
             spanning.map { $0.message.contains("node-1/") && $0.message.contains("node-2/") } ?? false),
            ("every lease was released after the class (killed program included)", leftover.isEmpty),
            ("leases were seen live", peakLeases > 0),
            ("every TCP hop was TLS: the API over HTTPS, both nodes serving certificates the pool CA issued them",
             url.hasPrefix("https://") && controller.output.contains("issued a TLS certificate to node node-1")
                && controller.output.contains("issued a TLS certificate to node node-2")),
        ]
        for (what, ok) in checks { print("\(ok ? "pass" : "FAIL"): \(what)") }
        print("peak concurrent leases: \(peakLeases); elapsed \(Int(Date().timeIntervalSince(start))) s")
        if keep {
            print("== the pool stays up: dashboard \(url)/ (token 'demo-admin'); CLI: TESSERA_CONTROLLER=\(url) TESSERA_CA=\(caFile) TESSERA_TOKEN=demo-admin tessera top")
            print("   node sockets: \(sockets.joined(separator: " ")); Ctrl-C ends it")
            fflush(nil)
            await DemoCommand.waitForInterrupt()
        }
        if checks.contains(where: { !$0.1 }) { throw ExitCode(1) }
    }

    /// The project's Python with CuPy (`scripts/setup-python.sh` installs it into `.venv-py/` once and prints
    /// its path).
    static func pythonWithCuPy(root: URL) throws -> String {
        let setup = Process()
        setup.executableURL = URL(fileURLWithPath: "/bin/bash")
        setup.arguments = [root.appendingPathComponent("scripts/setup-python.sh").path]
        let out = Pipe()
        setup.standardOutput = out
        try setup.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        setup.waitUntilExit()
        guard setup.terminationStatus == 0, let python = printed.split(separator: "\n").last.map(String.init), !python.isEmpty else {
            throw ValidationError("installing CuPy failed (scripts/setup-python.sh)")
        }
        return python
    }
}
