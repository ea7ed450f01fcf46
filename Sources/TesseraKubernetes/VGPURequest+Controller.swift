import TesseraPoolAPI

extension VGPURequest {
    /// The controller's spec for this request pinned to `nodeName`: spread puts each vGPU on its own GPU of the
    /// node, pack all on one GPU.
    public func spec(on nodeName: String) -> VirtualGPUSpec {
        VirtualGPUSpec(
            vgpus: vgpuCount, memoryMiB: memoryMiBPerVGPU, computePercent: computePercentPerVGPU, sameNode: true,
            allowedModels: allowedModels.map { $0.sorted() } ?? [], node: nodeName, computeMode: computeMode,
            distinctGPUs: layout == .spread, sameGPU: layout == .pack)
    }
}
