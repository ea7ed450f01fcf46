/// One GPU of a node as the placement engine sees it: its model, its memory and what is still free.
///
/// Compute is counted in milli-GPUs (1000 = the whole card's compute time), memory in MiB.
public struct GPU: Hashable, Sendable {
    /// The model name, e.g. `"V100M32"`; requests may restrict the models they accept.
    public var model: String
    /// Total device memory in MiB.
    public var memoryMiB: Int
    /// Compute not yet handed out, 0…1000 milli.
    public var freeMilli: Int
    /// Memory not yet handed out, 0…`memoryMiB`.
    public var freeMemoryMiB: Int

    /// A GPU; by default entirely free.
    public init(model: String, memoryMiB: Int, freeMilli: Int = 1000, freeMemoryMiB: Int? = nil) {
        self.model = model
        self.memoryMiB = memoryMiB
        self.freeMilli = freeMilli
        self.freeMemoryMiB = freeMemoryMiB ?? memoryMiB
    }

    /// Whether nothing of this GPU is handed out.
    public var isIdle: Bool { freeMilli == 1000 && freeMemoryMiB == memoryMiB }
}
