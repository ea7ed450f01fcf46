/// A GPU in the engine's flat storage: 16 bytes, so a node's GPUs sit in one cache line or two.
struct GPUState: Hashable, Sendable {
    var freeMilli: Int32
    var freeMemory: Int32
    var totalMemory: Int32
    /// Index into ``ClusterStorage/models``.
    var model: Int32

    var isIdle: Bool { freeMilli == 1000 && freeMemory == totalMemory }
}
