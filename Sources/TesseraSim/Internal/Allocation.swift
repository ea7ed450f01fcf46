#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One live device allocation and the host memory that stores it.
struct Allocation: @unchecked Sendable {
    let base: UInt64
    let size: Int
    let storage: UnsafeMutableRawPointer

    var end: UInt64 { base + UInt64(size) }

    static func make(base: UInt64, size: Int) -> Allocation? {
        // calloc: zeroed like fresh GPU pages, and large blocks come lazily from mmap.
        guard let p = calloc(max(size, 1), 1) else { return nil }
        return Allocation(base: base, size: size, storage: p)
    }

    func destroy() { Glibc.free(storage) }
}

/// An immutable, sorted view of a context's allocations, taken when work starts executing.
/// Resolving an address is a binary search; every access is checked against it.
struct AddressMap: @unchecked Sendable {
    private(set) var bases: [UInt64] = []
    private(set) var allocations: [Allocation] = []

    init(_ allocations: some Sequence<Allocation>) {
        self.allocations = allocations.sorted { $0.base < $1.base }
        self.bases = self.allocations.map(\.base)
    }

    /// The allocation holding [address, address + length), or nil when any byte lies outside every allocation.
    @inline(__always)
    func find(_ address: UInt64, length: Int) -> Allocation? {
        var lo = 0, hi = bases.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if bases[mid] <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let a = allocations[lo - 1]
        guard address &+ UInt64(length) <= a.end, address &+ UInt64(length) >= address else { return nil }
        return a
    }

    /// Host pointer for [address, address + length), or nil when out of bounds.
    @inline(__always)
    func resolve(_ address: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        guard let a = find(address, length: length) else { return nil }
        return a.storage + Int(address - a.base)
    }
}
