/// CUDA's `dim3`: grid and block extents.
package struct Dim3: Sendable, Hashable {
    package var x: UInt32
    package var y: UInt32
    package var z: UInt32
    package init(x: UInt32, y: UInt32, z: UInt32) { self.x = x; self.y = y; self.z = z }
}
