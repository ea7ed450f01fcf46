/// The extended-resource names and annotations pods use to ask for vGPUs; every name is configurable.
public struct ResourceNames: Sendable, Hashable {
    /// Number of vGPUs a container asks for; the device plugin advertises it.
    public var vgpu: String
    /// Memory of each vGPU in MiB; accounted by the extender alone (`ignoredByScheduler`).
    public var vgpuMemory: String
    /// Compute share of each vGPU in percent; accounted by the extender alone (`ignoredByScheduler`).
    public var vgpuCompute: String
    /// Pod annotation naming the GPU models the pod accepts, comma-separated (e.g. `A100,H100`).
    public var gpuModelAnnotation: String
    /// Pod annotation `spread` (default: each vGPU on its own GPU) or `pack` (all vGPUs on one GPU).
    public var placementAnnotation: String
    /// Pod annotation `share` (default: the compute share is guaranteed, idle time of others usable) or
    /// `limit` (the share is a hard cap).
    public var computeModeAnnotation: String

    public init(
        vgpu: String = "tessera.dev/vgpu", vgpuMemory: String = "tessera.dev/vgpu-memory",
        vgpuCompute: String = "tessera.dev/vgpu-compute", gpuModelAnnotation: String = "tessera.dev/gpu-model",
        placementAnnotation: String = "tessera.dev/vgpu-placement", computeModeAnnotation: String = "tessera.dev/compute-mode"
    ) {
        self.vgpu = vgpu
        self.vgpuMemory = vgpuMemory
        self.vgpuCompute = vgpuCompute
        self.gpuModelAnnotation = gpuModelAnnotation
        self.placementAnnotation = placementAnnotation
        self.computeModeAnnotation = computeModeAnnotation
    }

    /// The default names under `tessera.dev/`.
    public static let standard = ResourceNames()
}
