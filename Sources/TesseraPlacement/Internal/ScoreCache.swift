/// Per request shape, the last evaluation of every node and the node version it was computed at.
///
/// A placement changes one node, so the next query of a shape re-evaluates only the nodes that changed since
/// that shape was last asked about. Bounded: past `maxShapes` shapes it starts over.
struct ScoreCache: Sendable {
    struct Entry: Sendable {
        var version: UInt32
        var gpu: Int32
        var score: Double
    }

    static let maxShapes = 512

    private var slots: [PlacementRequest: Int] = [:]
    var entries: [Entry] = []
    let nodeCount: Int

    init(nodeCount: Int) { self.nodeCount = nodeCount }

    /// Offset of `shape`'s entries in `entries`.
    mutating func base(for shape: PlacementRequest) -> Int {
        if let slot = slots[shape] { return slot * nodeCount }
        if slots.count == Self.maxShapes {
            slots.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
        }
        let slot = slots.count
        slots[shape] = slot
        entries.append(contentsOf: repeatElement(Entry(version: 0, gpu: -1, score: 0), count: nodeCount))
        return slot * nodeCount
    }
}
