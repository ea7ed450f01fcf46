import Synchronization
import TesseraClientCore

// Stream-ordered allocation from each device's default memory pool. The pool is the vGPU's memory: allocations
// count against its quota like cudaMalloc's, and a free waits for the stream's earlier work, then returns the
// memory at once (Tessera keeps no cache of freed blocks, so release thresholds change nothing).

/// Each device's default pool handle: a unique, never-dereferenced address, made on first use.
private let defaultPools = Mutex<[Int: UInt]>([:])

private func defaultPool(_ device: Int) -> UInt {
    defaultPools.withLock { pools in
        if let p = pools[device] { return p }
        let p = UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16))
        pools[device] = p
        return p
    }
}

/// The device whose default pool `pool` is.
private func poolDevice(_ pool: UnsafeMutableRawPointer?) -> Int? {
    let handle = UInt(bitPattern: pool)
    return defaultPools.withLock { $0.first { $0.value == handle }?.key }
}

@_cdecl("cudaDeviceGetDefaultMemPool")
public func cudaDeviceGetDefaultMemPool(_ pool: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ device: Int32) -> Int32 {
    guard let pool else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    let e = rt.withSession { _ in rt.checkDevice(Int(device)) }
    guard e == 0 else { return record(e) }
    pool.pointee = UnsafeMutableRawPointer(bitPattern: defaultPool(Int(device)))
    return 0
}

@_cdecl("cudaDeviceGetMemPool")
public func cudaDeviceGetMemPool(_ pool: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ device: Int32) -> Int32 {
    cudaDeviceGetDefaultMemPool(pool, device)
}

@_cdecl("cudaDeviceSetMemPool")
public func cudaDeviceSetMemPool(_ device: Int32, _ pool: UnsafeMutableRawPointer?) -> Int32 {
    // Only the default pool exists; setting it again is allowed.
    guard let d = poolDevice(pool) else { return record(CUDAError.invalidValue) }
    return d == Int(device) ? 0 : record(CUDAError.invalidDevice)
}

@_cdecl("cudaMallocAsync")
public func cudaMallocAsync(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    guard let pointer else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    guard let device = rt.streamDevice(UInt(bitPattern: stream)) else { return record(CUDAError.invalidResourceHandle) }
    // Allocation is immediate (the stream's later work may use it at once, as CUDA allows).
    let (e, address) = rt.allocate(size, device: device)
    if e == 0 { pointer.pointee = UnsafeMutableRawPointer(bitPattern: UInt(address)) }
    return record(e)
}

@_cdecl("cudaMallocAsync_ptsz")
public func cudaMallocAsync_ptsz(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMallocAsync(pointer, size, stream)
}

@_cdecl("cudaMallocFromPoolAsync")
public func cudaMallocFromPoolAsync(
    _ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ pool: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    guard poolDevice(pool) != nil else { return record(CUDAError.invalidValue) }
    return cudaMallocAsync(pointer, size, stream)
}

@_cdecl("cudaMallocFromPoolAsync_ptsz")
public func cudaMallocFromPoolAsync_ptsz(
    _ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ pool: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    cudaMallocFromPoolAsync(pointer, size, pool, stream)
}

@_cdecl("cudaFreeAsync")
public func cudaFreeAsync(_ pointer: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    // Freed once the stream's earlier work (which may still use it) is done.
    let e = rt.synchronizeStream(UInt(bitPattern: stream))
    if e != 0 { return record(e) }
    return record(rt.free(UInt64(UInt(bitPattern: pointer))))
}

@_cdecl("cudaFreeAsync_ptsz")
public func cudaFreeAsync_ptsz(_ pointer: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaFreeAsync(pointer, stream)
}

@_cdecl("cudaMemPoolSetAttribute")
public func cudaMemPoolSetAttribute(_ pool: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard poolDevice(pool) != nil, value != nil, (1...8).contains(attribute) else { return record(CUDAError.invalidValue) }
    return 0  // reuse policies and the release threshold: nothing is cached, so nothing to tune
}

@_cdecl("cudaMemPoolGetAttribute")
public func cudaMemPoolGetAttribute(_ pool: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard poolDevice(pool) != nil, let value, (1...8).contains(attribute) else { return record(CUDAError.invalidValue) }
    switch attribute {
    case 1, 2, 3: value.storeBytes(of: Int32(0), as: Int32.self)  // reuse policies
    default: value.storeBytes(of: UInt64(0), as: UInt64.self)  // threshold, reserved and used high-water marks
    }
    return 0
}

@_cdecl("cudaMemPoolTrimTo")
public func cudaMemPoolTrimTo(_ pool: UnsafeMutableRawPointer?, _ minBytesToKeep: Int) -> Int32 {
    poolDevice(pool) != nil ? 0 : record(CUDAError.invalidValue)
}
