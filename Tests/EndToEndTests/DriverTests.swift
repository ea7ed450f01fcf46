import Foundation
import Testing
import TesseraWire

/// Programs that reach the GPU through the driver library (`libcuda.so.1`) — nvcc's default builds with
/// NVIDIA's static runtime, NVIDIA's own `libcudart.so.13`, and programs written against the driver API — run
/// under `tessera run` against a real `tessera node`, with the runtime path's guarantees.
@Suite struct DriverTests {
    /// The statically linked build of a sample (nvcc's defaults: no `-cudart shared`).
    static func staticSample(_ name: String) -> String { "static/\(name)" }

    @Test func staticBuildsRunEndToEnd() throws {
        let node = try TestNode()
        let memops = node.run(Self.staticSample("memops"))
        #expect(memops.status == 0, "\(memops.stdout)\n\(memops.stderr)")
        #expect(memops.stdout.contains("memops OK"))
        #expect(memops.stdout.contains("devices=1 name=NVIDIA H100"))
        #expect(memops.stdout.contains("total=67108864"))
        let vadd = node.run(Self.staticSample("vadd"), ["5000", "4"])
        #expect(vadd.status == 0, "\(vadd.stdout)\n\(vadd.stderr)")
        #expect(vadd.stdout.contains("vadd OK n=5000"))
        for sample in ["symbols", "streams"] {
            let r = node.run(Self.staticSample(sample))
            #expect(r.status == 0, "\(sample): \(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("\(sample) OK"))
        }
    }

    @Test func staticBuildQuotaIsExact() throws {
        let node = try TestNode()
        let r = node.run(Self.staticSample("quota"), ["48"], memory: "48MiB")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("quota OK \(48 << 20)"))
    }

    @Test func staticBuildUsesSeveralVirtualGPUs() throws {
        let node = try TestNode(gpus: 2)
        let r = node.run(Self.staticSample("multigpu"), ["3", "40"], vgpus: 3, memory: "40MiB")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("multigpu OK devices=3"))
    }

    @Test(arguments: ["copy", "memset", "free", "kernel"])
    func staticBuildFaultsStayWithTheirProgram(mode: String) throws {
        let node = try TestNode()
        let neighbour = node.start("hold", ["16"])
        #expect(neighbour.waitForOutput("READY"))
        let r = node.run(Self.staticSample("fault"), [mode])
        #expect(r.status == 0, "\(mode): \(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("fault OK \(mode)"))
        #expect(node.isRunning)
        // The ended program's session is torn down after its connection closes: wait for that, not for a moment.
        let (status, settled) = try node.waitForStatus(timeout: 10) { $0.sessions.count == 1 }
        #expect(settled && status.sessions[0].virtualGPUs[0].usedMemory == 16 << 20, "\(status.sessions)")
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
    }

    /// CUB's device-wide reduce and scan (what CuPy's and PyTorch's reductions call), built both ways: each
    /// call's temporary-storage query picks a tuning policy from the PTX version the driver reports for CUB's
    /// kernels and from occupancy, and fails with cudaErrorInvalidDeviceFunction when that version is not the
    /// kernels' virtual architecture.
    @Test(arguments: ["static/cub_reduce", "cub_reduce"])
    func cubDeviceAlgorithmsRun(sample: String) throws {
        let node = try TestNode()
        let r = node.run(sample, ["100000"], memory: "64MiB", compute: 50, timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("cub_reduce OK n=100000"), "\(r.stdout)\n\(r.stderr)")
    }

    /// A statically linked program whose two vGPUs are on two nodes: the driver path routes each device's calls
    /// to its node, as the runtime path does.
    @Test func staticBuildUsesVGPUsOfTwoNodes() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        let r = a.run(Self.staticSample("multigpu"), ["2", "768"], vgpus: 2, memory: "768MiB")
        #expect(r.status == 0 && r.stdout.contains("multigpu OK devices=2"), "\(r.stdout)\(r.stderr)\n\(b.process.stderr)")
        #expect(b.process.stderr.contains("session attached"), "\(b.process.stderr)")
    }

    /// A program built with `-cudart shared` over NVIDIA's own libcudart.so.13 (from the PyPI wheel) and
    /// Tessera's libcuda.so.1: the runtime's private tables and integrity check are answered.
    @Test func nvidiaRuntimeOverTesseraDriver() throws {
        let node = try TestNode()
        let nvidia = try #require(Self.nvidiaRuntimeDirectory(), "NVIDIA's libcudart.so.13 is not installed (scripts/setup-cuda.sh)")
        let links = node.directory.appendingPathComponent("driver")
        try FileManager.default.createDirectory(at: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: links.appendingPathComponent("libcuda.so.1").path,
            withDestinationPath: Products.buildDirectory.appendingPathComponent("libTesseraCuda.so").path)
        let r = Command.run(Products.sample("vadd"), ["3000", "2"], environment: [
            "LD_LIBRARY_PATH": "\(links.path):\(nvidia)", "TESSERA_ENDPOINT": node.socketPath, "TESSERA_MEMORY": "64MiB",
        ])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("vadd OK n=3000"))
        let memops = Command.run(Products.sample("memops"), [], environment: [
            "LD_LIBRARY_PATH": "\(links.path):\(nvidia)", "TESSERA_ENDPOINT": node.socketPath, "TESSERA_MEMORY": "64MiB",
        ])
        #expect(memops.status == 0, "\(memops.stdout)\n\(memops.stderr)")
        #expect(memops.stdout.contains("total=67108864"))
    }

    /// A driver-API program: modules from PTX, every launch form, linking, streams, memsets, 2D copies,
    /// cuGetProcAddress's versions, and bad input — malformed images, unknown handles, a launch with the wrong
    /// argument buffer, another tenant's pointer — that fails with its CUDA error while the program, its
    /// neighbour and the node carry on.
    @Test func driverAPIProgram() throws {
        let node = try TestNode()
        let neighbour = node.start("hold", ["16"])
        #expect(neighbour.waitForOutput("READY"))
        let pointer = try #require(neighbour.stdout.split(separator: "\n").first { $0.hasPrefix("READY ") }?.split(separator: " ").last)
        let dir = Products.samples.appendingPathComponent("driver").path
        let r = Command.run(Products.tessera.path, ["run", "--endpoint", node.socketPath, "--memory", "96MiB", "--",
                                                    "\(dir)/driver_api", dir, String(pointer)])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("neighbour refused"), "\(r.stdout)")
        // The ended program's session is torn down after its connection closes: wait for that, not for a moment.
        let (status, settled) = try node.waitForStatus(timeout: 10) { $0.sessions.count == 1 }
        #expect(settled && status.sessions[0].virtualGPUs[0].usedMemory == 16 << 20, "\(status.sessions)")
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
        #expect(r.stdout.contains("driver_api OK devices=1 name=NVIDIA H100"), "\(r.stdout)")
        #expect(r.stdout.contains("cc=9.0 total=\(96 << 20) driver=13050"), "\(r.stdout)")
        #expect(r.stderr.contains("cuGraphCreate is not supported"), "\(r.stderr)")
        // The node and its other programs carry on.
        #expect(node.isRunning)
        let after = node.run(Self.staticSample("vadd"))
        #expect(after.status == 0, "\(after.stderr)")
    }

    /// The driver library carries NVIDIA's soname, exports only driver names, and needs no Swift library.
    @Test func driverLibraryIdentity() throws {
        let library = Products.buildDirectory.appendingPathComponent("libTesseraCuda.so").path
        let dynamic = Command.run("/usr/bin/readelf", ["-d", "-W", library])
        #expect(dynamic.stdout.contains("Library soname: [libcuda.so.1]"))
        for line in dynamic.stdout.split(separator: "\n") where line.contains("(NEEDED)") {
            #expect(!line.contains("swift") && !line.contains("Foundation") && !line.contains("dispatch"), "\(line)")
        }
        let symbols = Command.run("/usr/bin/readelf", ["--dyn-syms", "-W", library]).stdout.split(separator: "\n")
        let exported = symbols.filter { $0.contains(" GLOBAL ") && !$0.contains(" UND ") }.compactMap { $0.split(separator: " ").last }
        #expect(exported.count > 700)
        #expect(exported.allSatisfy { $0.hasPrefix("cu") && !$0.hasPrefix("cuda") }, "\(exported.filter { !$0.hasPrefix("cu") || $0.hasPrefix("cuda") })")
        for name in ["cuInit", "cuGetProcAddress_v2", "cuGetExportTable", "cuLaunchKernel", "cuLibraryLoadData", "cuMemAlloc_v2", "cuGraphCreate"] {
            #expect(exported.contains(Substring(name)), "\(name)")
        }
        // Nothing left to resolve from elsewhere but the C and C++ runtimes.
        let undefined = symbols.filter { $0.contains(" UND ") && $0.contains(" GLOBAL ") && !$0.contains("@") }
        #expect(undefined.isEmpty, "\(undefined)")
    }

    /// Where the nvidia-cuda-runtime wheel put NVIDIA's libcudart.so.13 (beside nvcc, in the project's venv).
    static func nvidiaRuntimeDirectory() -> String? {
        let lib = Products.packageRoot.appendingPathComponent(".venv-cuda/lib")
        guard let pythons = try? FileManager.default.contentsOfDirectory(atPath: lib.path) else { return nil }
        for p in pythons where p.hasPrefix("python3") {
            let dir = lib.appendingPathComponent("\(p)/site-packages/nvidia/cu13/lib").path
            if FileManager.default.fileExists(atPath: "\(dir)/libcudart.so.13") { return dir }
        }
        return nil
    }
}
