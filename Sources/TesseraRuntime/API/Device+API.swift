#if canImport(Glibc)
import Glibc
#endif
import TesseraWire
import TesseraClientCore

@_cdecl("cudaGetDeviceCount")
public func cudaGetDeviceCount(_ count: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let count else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    let e = rt.withSession { _ in
        count.pointee = Int32(rt.devices.count)
        return 0
    }
    if e != 0 { count.pointee = 0 }
    return record(e)
}

@_cdecl("cudaSetDevice")
public func cudaSetDevice(_ device: Int32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let e = rt.checkDevice(Int(device))
        if e == 0 { ThreadState.current.device = Int(device) }
        return e
    })
}

@_cdecl("cudaGetDevice")
public func cudaGetDevice(_ device: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let device else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        device.pointee = Int32(ThreadState.current.device)
        return 0
    })
}

@_cdecl("cudaInitDevice")
public func cudaInitDevice(_ device: Int32, _ deviceFlags: UInt32, _ flags: UInt32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in rt.checkDevice(Int(device)) })
}

@_cdecl("cudaSetDeviceFlags")
public func cudaSetDeviceFlags(_ flags: UInt32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in 0 })
}

@_cdecl("cudaGetDeviceFlags")
public func cudaGetDeviceFlags(_ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    flags?.pointee = 0
    return 0
}

@_cdecl("cudaDeviceSynchronize")
public func cudaDeviceSynchronize() -> Int32 {
    let rt = Runtime.shared
    return record(rt.withDevice(checkSticky: false) { device, link in
        return rt.outcome(link.call(SynchronizeDevice(device: device)) { (_) throws(WireError) in () }, device: device, synchronizing: true).0
    })
}

@_cdecl("cudaThreadSynchronize")
public func cudaThreadSynchronize() -> Int32 { cudaDeviceSynchronize() }

@_cdecl("cudaDeviceReset")
public func cudaDeviceReset() -> Int32 {
    let rt = Runtime.shared
    let e = rt.resetDevice()
    if e == 0 { ThreadState.current.lastError = 0 }
    return record(e)
}

@_cdecl("cudaDeviceCanAccessPeer")
public func cudaDeviceCanAccessPeer(_ canAccess: UnsafeMutablePointer<Int32>?, _ device: Int32, _ peer: Int32) -> Int32 {
    canAccess?.pointee = 0
    return 0
}

@_cdecl("cudaDeviceGetStreamPriorityRange")
public func cudaDeviceGetStreamPriorityRange(_ least: UnsafeMutablePointer<Int32>?, _ greatest: UnsafeMutablePointer<Int32>?) -> Int32 {
    least?.pointee = 0
    greatest?.pointee = -5
    return 0
}

@_cdecl("cudaDeviceGetLimit")
public func cudaDeviceGetLimit(_ value: UnsafeMutablePointer<Int>?, _ limit: Int32) -> Int32 {
    guard let value else { return record(CUDAError.invalidValue) }
    let (e, v) = Runtime.shared.limit(limit, device: ThreadState.current.device)
    if e == 0 { value.pointee = v }
    return record(e)
}

@_cdecl("cudaDeviceSetLimit")
public func cudaDeviceSetLimit(_ limit: Int32, _ value: Int) -> Int32 {
    record(Runtime.shared.setLimit(limit, value: value, device: ThreadState.current.device))
}

@_cdecl("cudaDeviceGetCacheConfig")
public func cudaDeviceGetCacheConfig(_ config: UnsafeMutablePointer<Int32>?) -> Int32 {
    config?.pointee = 0
    return 0
}

@_cdecl("cudaDeviceSetCacheConfig")
public func cudaDeviceSetCacheConfig(_ config: Int32) -> Int32 { 0 }

@_cdecl("cudaFuncSetCacheConfig")
public func cudaFuncSetCacheConfig(_ function: UnsafeRawPointer?, _ config: Int32) -> Int32 { 0 }

@_cdecl("cudaFuncSetAttribute")
public func cudaFuncSetAttribute(_ function: UnsafeRawPointer?, _ attribute: Int32, _ value: Int32) -> Int32 {
    let rt = Runtime.shared
    let known = rt.lock.withLock { function.map { rt.functions[$0] != nil } ?? false }
    return known ? 0 : record(CUDAError.invalidDeviceFunction)
}

@_cdecl("cudaDeviceGetPCIBusId")
public func cudaDeviceGetPCIBusId(_ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ device: Int32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard rt.checkDevice(Int(device)) == 0 else { return CUDAError.invalidDevice }
        guard let buffer, length > 0 else { return CUDAError.invalidValue }
        let hex = String(rt.devices[Int(device)].pciBusID, radix: 16)
        let text = "0000:" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex + ":00.0"
        let bytes = Array(text.utf8.prefix(Int(length) - 1))
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
        return 0
    })
}

@_cdecl("cudaDeviceGetAttribute")
public func cudaDeviceGetAttribute(_ value: UnsafeMutablePointer<Int32>?, _ attribute: Int32, _ device: Int32) -> Int32 {
    guard let value else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard rt.checkDevice(Int(device)) == 0 else { return CUDAError.invalidDevice }
        guard let v = DeviceAttributes.value(attribute, of: rt.devices[Int(device)]) else { return CUDAError.invalidValue }
        value.pointee = Int32(truncatingIfNeeded: v)
        return 0
    })
}

@_cdecl("cudaFuncGetAttributes")
public func cudaFuncGetAttributes(_ attributes: UnsafeMutableRawPointer?, _ function: UnsafeRawPointer?) -> Int32 {
    guard let attributes else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard let function, let ref = rt.functions[function] else { return CUDAError.invalidDeviceFunction }
        let device = ThreadState.current.device
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        switch rt.resolve(ref, device: device) {
        case .failure(let f): return f.code
        case .success(let k):
            // struct cudaFuncAttributes: 144 bytes in CUDA 12 and 13.
            attributes.initializeMemory(as: UInt8.self, repeating: 0, count: 144)
            attributes.storeBytes(of: k.info.staticSharedBytes, toByteOffset: 0, as: Int.self)
            attributes.storeBytes(of: k.info.constantBytes, toByteOffset: 8, as: Int.self)
            attributes.storeBytes(of: k.info.localBytesPerThread, toByteOffset: 16, as: Int.self)
            attributes.storeBytes(of: Int32(k.info.maxThreadsPerBlock), toByteOffset: 24, as: Int32.self)
            attributes.storeBytes(of: Int32(k.info.registersPerThread), toByteOffset: 28, as: Int32.self)
            attributes.storeBytes(of: Int32(k.info.ptxVersion), toByteOffset: 32, as: Int32.self)
            attributes.storeBytes(of: Int32(k.info.binaryVersion), toByteOffset: 36, as: Int32.self)
            let optin = rt.devices[device].sharedMemoryPerBlockOptin
            attributes.storeBytes(of: Int32(max(0, optin - k.info.staticSharedBytes)), toByteOffset: 44, as: Int32.self)
            attributes.storeBytes(of: Int32(-1), toByteOffset: 48, as: Int32.self)
            return 0
        }
    })
}

@_cdecl("cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags")
public func cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    _ blocks: UnsafeMutablePointer<Int32>?, _ function: UnsafeRawPointer?, _ blockSize: Int32, _ dynamicSharedMemory: Int, _ flags: UInt32
) -> Int32 {
    guard let blocks, blockSize > 0 else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard let function, let ref = rt.functions[function] else { return CUDAError.invalidDeviceFunction }
        let device = ThreadState.current.device
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        switch rt.resolve(ref, device: device) {
        case .failure(let f): return f.code
        case .success(let k):
            blocks.pointee = Int32(rt.occupancy(k.info, device: device, blockSize: Int(blockSize), dynamicSharedMemory: dynamicSharedMemory))
            return 0
        }
    })
}

@_cdecl("cudaOccupancyMaxActiveBlocksPerMultiprocessor")
public func cudaOccupancyMaxActiveBlocksPerMultiprocessor(
    _ blocks: UnsafeMutablePointer<Int32>?, _ function: UnsafeRawPointer?, _ blockSize: Int32, _ dynamicSharedMemory: Int
) -> Int32 {
    cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, function, blockSize, dynamicSharedMemory, 0)
}
