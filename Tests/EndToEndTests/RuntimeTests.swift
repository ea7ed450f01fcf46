import Foundation
import Testing
import TesseraWire

/// Real CUDA programs (built by nvcc) run under `tessera run` against a real `tessera node` with simulated GPUs.
@Suite struct RuntimeTests {
    @Test func memoryOperationsRunEndToEnd() throws {
        let node = try TestNode()
        let r = node.run("memops")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("memops OK"))
        #expect(r.stdout.contains("devices=1 name=NVIDIA H100"))
        #expect(r.stdout.contains("total=67108864"))
    }

    @Test func vectorAddRunsEndToEnd() throws {
        let node = try TestNode()
        let r = node.run("vadd", ["5000", "4"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("vadd OK n=5000"))
    }

    @Test func symbolsAttributesAndOccupancy() throws {
        let node = try TestNode()
        let r = node.run("symbols")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("symbols OK"))
    }

    @Test func streamsEventsAndPinnedMemory() throws {
        let node = try TestNode()
        let r = node.run("streams")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("streams OK"))
    }

    @Test func quotaIsExactAndIsWhatTheProgramSees() throws {
        let node = try TestNode()
        let r = node.run("quota", ["48"], memory: "48MiB")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("quota OK \(48 << 20)"))
    }

    @Test func severalVirtualGPUsInOneProgram() throws {
        let node = try TestNode(gpus: 2)
        let r = node.run("multigpu", ["3", "40"], vgpus: 3, memory: "40MiB")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("multigpu OK devices=3"))
    }

    @Test func programLinkedAgainstCUDA12() throws {
        let node = try TestNode()
        let r = node.run("vadd_cuda12")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("runtime=12090"))
        #expect(r.stdout.contains("total=67108864 major=9 sms=132"))
        #expect(r.stdout.contains("vadd_cuda12 OK"))
    }

    @Test func loadsIntoPythonThroughCtypes() throws {
        let node = try TestNode()
        let script = """
            import ctypes
            cudart = ctypes.CDLL("libcudart.so.13")
            n = ctypes.c_int(-1)
            assert cudart.cudaGetDeviceCount(ctypes.byref(n)) == 0, "cudaGetDeviceCount failed"
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            assert cudart.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)) == 0
            p = ctypes.c_void_p()
            assert cudart.cudaMalloc(ctypes.byref(p), 1 << 20) == 0
            assert cudart.cudaGraphCreate(ctypes.byref(ctypes.c_void_p()), 0) == 801  # not supported, no crash
            print("python devices=%d total=%d" % (n.value, total.value))
            """
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", node.socketPath, "--memory", "96MiB", "--", "python3", "-c", script])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("python devices=1 total=\(96 << 20)"))
        #expect(r.stderr.contains("cudaGraphCreate is not supported"))
    }

    @Test func requestThatDoesNotFitIsRefusedClearly() throws {
        let node = try TestNode(gpus: 1, memory: "256MiB")
        let tooBig = node.run("memops", memory: "512MiB")
        #expect(tooBig.status != 0)
        #expect(tooBig.stderr.contains("refused"), "\(tooBig.stderr)")
        #expect(tooBig.stderr.contains("busy or unavailable"), "\(tooBig.stderr)")
        // Compute shares count too: one program holds 60 %, a second 60 % does not fit until it is gone.
        let holder = node.start("hold", ["8"], compute: 60)
        #expect(holder.waitForOutput("READY"))
        let second = node.run("memops", compute: 60)
        #expect(second.status != 0 && second.stderr.contains("refused"), "\(second.stderr)")
        kill(holder.pid, SIGKILL)
        _ = holder.finish()
        let (_, freed) = try node.waitForStatus(timeout: 2) { $0.sessions.isEmpty }
        #expect(freed)
        let third = node.run("memops", compute: 60)
        #expect(third.status == 0, "\(third.stderr)")
    }

    /// Each runtime carries its soname, exports CUDA's names under its own version node only, and needs no
    /// Swift, Foundation or Dispatch library where it runs.
    @Test(arguments: [12, 13])
    func runtimeLibraryIdentity(major: Int) throws {
        let library = Products.buildDirectory.appendingPathComponent("libTesseraCudart\(major).so").path
        let dynamic = Command.run("/usr/bin/readelf", ["-d", "-W", library])
        #expect(dynamic.stdout.contains("Library soname: [libcudart.so.\(major)]"))
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty)
        for line in needed {
            #expect(!line.contains("swift") && !line.contains("Foundation") && !line.contains("dispatch"), "\(line)")
        }
        let symbols = Command.run("/usr/bin/readelf", ["--dyn-syms", "-W", library]).stdout.split(separator: "\n")
        let exported = symbols.filter { $0.contains(" GLOBAL ") && !$0.contains(" UND ") }
        #expect(exported.count > 400)
        for line in exported {
            #expect(line.contains("@@libcudart.so.\(major)") || line.hasSuffix("libcudart.so.\(major)"), "\(line)")
        }
        for name in ["cudaMalloc", "__cudaRegisterFatBinary", "__cudaLaunchKernel", "cudaGetDeviceProperties", "cudaGraphCreate"] {
            #expect(exported.contains { $0.hasSuffix(" \(name)@@libcudart.so.\(major)") }, "\(name)")
        }
        #expect(exported.contains { $0.hasSuffix(" cudaGetDeviceProperties_v2@@libcudart.so.\(major)") } == (major == 12))
    }

    @Test func runExitsWithTheProgramsStatus() throws {
        let r = Command.run(Products.tessera.path, ["run", "--", "/bin/sh", "-c", "exit 7"])
        #expect(r.status == 7)
        let missing = Command.run(Products.tessera.path, ["run", "--", "/nonexistent/program"])
        #expect(missing.status == 127 && missing.stderr.contains("cannot run"))
    }

    /// Containers and notebooks pass the request in the environment, with no `tessera run` in between.
    @Test func requestByEnvironmentAlone() throws {
        let node = try TestNode()
        let links = node.directory.appendingPathComponent("lib")
        try FileManager.default.createDirectory(at: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: links.appendingPathComponent("libcudart.so.13").path,
            withDestinationPath: Products.buildDirectory.appendingPathComponent("libTesseraCudart13.so").path)
        let r = Command.run(Products.sample("quota"), ["80"], environment: [
            "LD_LIBRARY_PATH": links.path, "TESSERA_ENDPOINT": node.socketPath, "TESSERA_MEMORY": "80MiB", "TESSERA_COMPUTE": "3",
        ])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("quota OK \(80 << 20)"))
        let bad = Command.run(Products.sample("quota"), ["80"], environment: [
            "LD_LIBRARY_PATH": links.path, "TESSERA_ENDPOINT": node.socketPath, "TESSERA_MEMORY": "lots",
        ])
        #expect(bad.status != 0 && bad.stderr.contains("TESSERA_MEMORY='lots'"), "\(bad.stderr)")
    }

    @Test func missingNodeGivesAClearError() throws {
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", "/nonexistent/tessera.sock", "--", Products.sample("memops")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot reach the Tessera node"))
        #expect(r.stderr.contains("no CUDA-capable device"))
    }

    @Test func remoteClientOverTCP() throws {
        let node = try TestNode(tcp: true)
        let endpoint = try #require(node.tcpEndpoint)
        let holder = Command.start(Products.tessera.path, ["run", "--endpoint", endpoint, "--memory", "32MiB", "--", Products.sample("hold"), "4"])
        #expect(holder.waitForOutput("READY"))
        let status = try node.status()
        #expect(status.sessions.count == 1)
        #expect(status.sessions.first?.peer.hasPrefix("127.0.0.1:") == true)
        kill(holder.pid, SIGKILL)
        _ = holder.finish()
        for sample in ["memops", "streams", "vadd"] {
            let r = node.run(sample, endpoint: endpoint)
            #expect(r.status == 0, "\(sample): \(r.stdout)\n\(r.stderr)")
        }
    }
}
