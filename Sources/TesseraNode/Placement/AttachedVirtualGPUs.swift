/// This node's vGPUs of a lease another node obtained, as the pool confirmed them for an attaching program.
public struct AttachedVirtualGPUs: Sendable, Hashable {
    /// This node's GPU of each vGPU, in the lease's order.
    public var gpus: [Int]
    public var request: VirtualGPURequest
    public init(gpus: [Int], request: VirtualGPURequest) {
        self.gpus = gpus
        self.request = request
    }
}
