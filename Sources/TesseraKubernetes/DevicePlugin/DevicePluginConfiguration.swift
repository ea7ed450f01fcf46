/// Settings of the node's device plugin.
public struct DevicePluginConfiguration: Sendable, Hashable {
    /// The extended resource the plugin advertises.
    public var resourceName: String
    /// The kubelet's folder (its sockets live under `device-plugins/` and `pod-resources/`).
    public var kubeletDirectory: String
    /// How many vGPUs one GPU may host: the number of device IDs advertised per GPU.
    public var vgpusPerGPU: Int
    /// The node daemon's socket folder on the host, mounted into every vGPU container at the same path.
    public var socketDirectory: String
    /// The socket's file name in that folder.
    public var socketName: String
    /// Where the runtime libraries (`libcudart.so.12`, `.13`) are on the host.
    public var hostLibraryDirectory: String
    /// Where they appear in containers (prepended to `LD_LIBRARY_PATH`).
    public var containerLibraryDirectory: String
    /// The node's GPUs are simulated: containers also get the settings that make frameworks hand the device PTX
    /// (`VirtualGPUEnvironment.ptxClientSettings`, with the nvJitLink stand-in from `ptx-only/` of the libraries).
    public var simulatedGPUs: Bool
    /// The pool's CA bundle on the host, when the node has one: mounted read-only into containers at
    /// ``containerCABundle`` and named by `TESSERA_CA`, so their programs verify the nodes they reach over TLS.
    public var caBundleHostPath: String?
    /// Where containers find the pool's CA bundle.
    public static let containerCABundle = "/var/run/tessera-ca/ca.pem"

    public init(
        resourceName: String = ResourceNames.standard.vgpu, kubeletDirectory: String = "/var/lib/kubelet",
        vgpusPerGPU: Int = 16, socketDirectory: String = "/var/run/tessera", socketName: String = "node.sock",
        hostLibraryDirectory: String = "/opt/tessera/lib", containerLibraryDirectory: String = "/usr/local/tessera/lib",
        simulatedGPUs: Bool = false
    ) {
        self.resourceName = resourceName
        self.kubeletDirectory = kubeletDirectory
        self.vgpusPerGPU = vgpusPerGPU
        self.socketDirectory = socketDirectory
        self.socketName = socketName
        self.hostLibraryDirectory = hostLibraryDirectory
        self.containerLibraryDirectory = containerLibraryDirectory
        self.simulatedGPUs = simulatedGPUs
    }

    /// `<kubelet>/device-plugins/kubelet.sock`.
    public var kubeletSocket: String { "\(kubeletDirectory)/device-plugins/kubelet.sock" }
    /// `<kubelet>/pod-resources/kubelet.sock`.
    public var podResourcesSocket: String { "\(kubeletDirectory)/pod-resources/kubelet.sock" }
    /// The plugin's own socket's base name, as `Register` carries it.
    public var pluginEndpoint: String { "tessera-vgpu.sock" }
}
