import Foundation
import Testing
import TesseraDevicePlugin
import TesseraKubernetes
import TesseraTestSupport

/// The real `tessera node --kubelet-dir …` process against the kubelet stand-in.
@Suite struct NodeProcessTests {
    /// `tessera`, next to the running test bundle (both are build products of the same build).
    static var tessera: URL? {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("tessera")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    @Test func tesseraNodeServesTheDevicePlugin() async throws {
        let tessera = try #require(Self.tessera, "build the tessera executable (swift build --build-tests builds it)")
        let directory = try KubeletDirectory()
        let socket = "\(directory.path)/run/node.sock"
        let log = URL(fileURLWithPath: "\(directory.path)/node.log")
        #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
        let process = Process()
        process.executableURL = tessera
        process.arguments = ["node", "--socket", socket, "--sim-gpus", "2", "--sim-gpu-memory", "1GiB",
                             "--kubelet-dir", directory.path, "--vgpus-per-gpu", "2", "--runtime-library-dir", "/opt/tessera/lib",
                             "--log-level", "debug"]
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        var configuration = DevicePluginConfiguration(kubeletDirectory: directory.path)
        configuration.vgpusPerGPU = 2
        // Started before the kubelet is there: the plugin waits for kubelet.sock.
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        try await withKubelet(directory.path) { kubelet in
            let registered = await kubelet.wait(upTo: 60) { !$0.registrations.isEmpty && !$0.deviceLists.isEmpty }
            #expect(registered, "node log:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            #expect(kubelet.registrations.first?.resourceName == "tessera.dev/vgpu")
            #expect(summary(kubelet.latestDevices) == [
                "tessera-g0-v0=Healthy", "tessera-g0-v1=Healthy", "tessera-g1-v0=Healthy", "tessera-g1-v1=Healthy",
            ])
            let allocation = try await withPluginClient(configuration) { plugin in
                try await plugin.allocate(.with { $0.containerRequests = [.with { $0.devicesIds = ["tessera-g1-v1"] }] })
            }
            let container = try #require(allocation.containerResponses.first)
            #expect(container.envs["TESSERA_ENDPOINT"] == socket)
            #expect(container.envs["TESSERA_VGPUS"] == "1")
            #expect(container.envs["LD_LIBRARY_PATH"]?.hasPrefix("/usr/local/tessera/lib:") == true)
            #expect(container.mounts.map { "\($0.hostPath)->\($0.containerPath)" } == [
                "\(directory.path)/run->\(directory.path)/run", "/opt/tessera/lib->/usr/local/tessera/lib",
            ])
            #expect(FileManager.default.fileExists(atPath: socket), "the node's own socket is served too")
        }
        // The kubelet restarts: its sockets are deleted, a new one appears; the node registers again.
        directory.remove("device-plugins/kubelet.sock")
        directory.remove("device-plugins/tessera-vgpu.sock")
        try await withKubelet(directory.path) { kubelet in
            let registered = await kubelet.wait(upTo: 60) { !$0.registrations.isEmpty && $0.deviceLists.last?.count == 4 }
            #expect(registered, "node log:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        process.terminate()  // SIGTERM: graceful shutdown
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!directory.exists("device-plugins/tessera-vgpu.sock"), "the plugin removes its socket on shutdown")
    }
}
