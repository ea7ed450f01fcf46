import ArgumentParser
import TesseraKubernetes

/// `tessera node` options for the kubelet device plugin. The plugin runs when --device-plugin or --kubelet-dir
/// is given; a standalone node (no Kubernetes) leaves both out.
struct DevicePluginOptions: ParsableArguments {
    @Flag(help: "Serve the kubelet device plugin (resource --resource-name) under --kubelet-dir.")
    var devicePlugin = false

    @Option(help: "The kubelet's folder, holding device-plugins/ and pod-resources/ (default /var/lib/kubelet; implies --device-plugin).")
    var kubeletDir: String?

    @Option(help: "Extended resource the device plugin advertises.")
    var resourceName: String = ResourceNames.standard.vgpu

    @Option(name: .customLong("vgpus-per-gpu"), help: "Device IDs advertised per GPU: how many vGPUs one GPU may host.")
    var vgpusPerGPU: Int = 16

    @Option(help: "Host folder holding the runtime libraries (libcudart.so.12/.13) mounted into vGPU containers.")
    var runtimeLibraryDir: String = "/opt/tessera/lib"

    @Option(help: "Where containers see the runtime libraries (put first on their LD_LIBRARY_PATH).")
    var containerLibraryDir: String = "/usr/local/tessera/lib"

    var enabled: Bool { devicePlugin || kubeletDir != nil }

    /// The plugin's settings; `socket` is the node's unix socket, mounted into containers at the same path.
    func configuration(socket: String) throws -> DevicePluginConfiguration {
        guard socket.hasPrefix("/"), let slash = socket.lastIndex(of: "/"), slash != socket.index(before: socket.endIndex) else {
            throw ValidationError("--device-plugin needs an absolute --socket path (containers mount its folder), got '\(socket)'")
        }
        guard (1...1024).contains(vgpusPerGPU) else { throw ValidationError("--vgpus-per-gpu must be 1…1024") }
        let parts = resourceName.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].contains("."), !parts[1].isEmpty else {
            throw ValidationError("--resource-name must be a domain-prefixed extended resource like tessera.dev/vgpu, got '\(resourceName)'")
        }
        for (flag, path) in [("--kubelet-dir", kubeletDir ?? "/"), ("--runtime-library-dir", runtimeLibraryDir), ("--container-library-dir", containerLibraryDir)] where !path.hasPrefix("/") {
            throw ValidationError("\(flag) must be an absolute path, got '\(path)'")
        }
        let directory = slash == socket.startIndex ? "/" : String(socket[..<slash])
        return DevicePluginConfiguration(
            resourceName: resourceName, kubeletDirectory: kubeletDir ?? "/var/lib/kubelet", vgpusPerGPU: vgpusPerGPU,
            socketDirectory: directory, socketName: String(socket[socket.index(after: slash)...]),
            hostLibraryDirectory: runtimeLibraryDir, containerLibraryDirectory: containerLibraryDir)
    }
}
