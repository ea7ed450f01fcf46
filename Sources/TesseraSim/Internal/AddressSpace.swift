/// The simulator's generic address space layout. Every window lies in the non-canonical hole of
/// 64-bit host address spaces, so no device or window address is ever a valid host pointer.
enum AddressSpace {
    /// Global memory: GPU `n` owns [globalBase + n·2^44, globalBase + (n+1)·2^44).
    static let globalBase: UInt64 = 0x0B00_0000_0000_0000
    /// Generic addresses of the executing block's shared memory.
    static let sharedBase: UInt64 = 0x0A00_0000_0000_0000
    static let sharedLimit: UInt64 = 0x0A00_0000_0100_0000
    /// Generic addresses of the executing thread's local memory (its stack).
    static let localBase: UInt64 = 0x0A10_0000_0000_0000
    static let localLimit: UInt64 = 0x0A10_0000_0100_0000
    /// Generic addresses of the kernel's parameter buffer (`cvta.param`).
    static let paramBase: UInt64 = 0x0A20_0000_0000_0000
    static let paramLimit: UInt64 = 0x0A20_0000_0001_0000
}
