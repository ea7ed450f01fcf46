/// GPU memory by model name, for traces that list models but not memory (the openb node lists).
///
/// Values are the cards' nominal capacities in MiB; `G1`, `G2` and `G3` are the trace's anonymised models, whose
/// memory is not published (the values here are assumptions). In the replay a trace request's GPU memory is the
/// same fraction of the card as its compute, so these numbers never change which requests fit. The table is
/// documented in docs/placement.md; a node list may override it per node with a `gpu_memory_mib` column.
public struct GPUMemoryTable: Hashable, Sendable {
    /// MiB per model.
    public var mebibytesByModel: [String: Int]
    /// MiB for a model not in the table.
    public var fallbackMiB: Int

    public init(mebibytesByModel: [String: Int], fallbackMiB: Int) {
        self.mebibytesByModel = mebibytesByModel
        self.fallbackMiB = fallbackMiB
    }

    /// The table Tessera uses by default.
    public static let standard = GPUMemoryTable(
        mebibytesByModel: [
            "P4": 8_192, "M40": 12_288, "1080": 11_264, "2080": 11_264, "T4": 16_384, "P100": 16_384,
            "V100M16": 16_384, "V100M32": 32_768, "A10": 24_576, "3090": 24_576, "A30": 24_576,
            "A40": 49_152, "L4": 24_576, "L40": 49_152, "A100": 81_920, "H100": 81_920, "H200": 143_360,
            "G1": 10_240, "G2": 24_576, "G3": 32_768,
        ],
        fallbackMiB: 16_384)

    /// Memory of a card of `model`.
    public func memoryMiB(of model: String) -> Int { mebibytesByModel[model] ?? fallbackMiB }
}
