#if canImport(Glibc)
import Glibc
#endif
import TesseraWire
import TesseraClientCore

private func none(_ r: inout WireReader) throws(WireError) {}

@_cdecl("cudaMalloc")
public func cudaMalloc(_ pointer: UnsafeMutablePointer<UInt>?, _ size: Int) -> Int32 {
    guard let pointer else { return record(CUDAError.invalidValue) }
    let (e, address) = Runtime.shared.allocate(size)
    if e == 0 { pointer.pointee = UInt(address) }
    return record(e)
}

@_cdecl("cudaFree")
public func cudaFree(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    // cudaFree(0) only initializes.
    return record(pointer == nil ? rt.withSession { _ in 0 } : rt.free(UInt64(UInt(bitPattern: pointer))))
}

@_cdecl("cudaMallocPitch")
public func cudaMallocPitch(_ pointer: UnsafeMutablePointer<UInt>?, _ pitch: UnsafeMutablePointer<Int>?, _ width: Int, _ height: Int) -> Int32 {
    guard let pitch else { return record(CUDAError.invalidValue) }
    let p = (max(width, 1) + 511) & ~511
    let e = cudaMalloc(pointer, p * height)
    if e == 0 { pitch.pointee = p }
    return e
}

@_cdecl("cudaMemGetInfo")
public func cudaMemGetInfo(_ free: UnsafeMutablePointer<Int>?, _ total: UnsafeMutablePointer<Int>?) -> Int32 {
    let (e, f, t) = Runtime.shared.memoryInfo()
    if e == 0 {
        free?.pointee = f
        total?.pointee = t
    }
    return record(e)
}

@_cdecl("cudaMallocHost")
public func cudaMallocHost(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int) -> Int32 {
    cudaHostAlloc(pointer, size, 0)
}

@_cdecl("cudaHostAlloc")
public func cudaHostAlloc(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ flags: UInt32) -> Int32 {
    guard let pointer else { return record(CUDAError.invalidValue) }
    let (e, base) = Runtime.shared.allocateHost(size)
    if e == 0 { pointer.pointee = UnsafeMutableRawPointer(bitPattern: base) }
    return record(e)
}

@_cdecl("cudaFreeHost")
public func cudaFreeHost(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.freeHost(UInt(bitPattern: pointer)))
}

/// Registered memory stays pageable to Tessera: copies from it are correct, not zero-copy. With
/// `cudaHostRegisterMapped`, a shared mapping of a sealed memfd is mapped into the devices at its own address.
@_cdecl("cudaHostRegister")
public func cudaHostRegister(_ pointer: UnsafeMutableRawPointer?, _ size: Int, _ flags: UInt32) -> Int32 {
    guard let pointer, size > 0 else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    // cudaHostRegisterMapped = 0x02.
    return record(rt.withSession { _ in rt.registerHost(UInt(bitPattern: pointer), size: size, deviceMap: flags & 0x02 != 0) })
}

@_cdecl("cudaHostUnregister")
public func cudaHostUnregister(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.unregisterHost(UInt(bitPattern: pointer)))
}

/// Pinned memory is mapped into the devices (when the node shares this machine) at the same address, as
/// unified addressing gives: the device pointer is the host pointer.
@_cdecl("cudaHostGetDevicePointer")
public func cudaHostGetDevicePointer(_ device: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ host: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    guard let device, let host, flags == 0 else { return record(CUDAError.invalidValue) }
    let (e, address) = Runtime.shared.hostDevicePointer(UInt(bitPattern: host))
    if e == 0 { device.pointee = UnsafeMutableRawPointer(bitPattern: UInt(address)) }
    return record(e)
}

@_cdecl("cudaMemcpy")
public func cudaMemcpy(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ kind: Int32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        rt.copy(destination: UInt(bitPattern: destination), source: UInt(bitPattern: source), count: count, kind: kind, stream: 0, async: false)
    })
}

@_cdecl("cudaMemcpyAsync")
public func cudaMemcpyAsync(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ kind: Int32, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        rt.copy(destination: UInt(bitPattern: destination), source: UInt(bitPattern: source), count: count, kind: kind,
                stream: UInt(bitPattern: stream), async: true)
    })
}

@_cdecl("cudaMemcpyAsync_ptsz")
public func cudaMemcpyAsync_ptsz(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ kind: Int32, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemcpyAsync(destination, source, count, kind, stream)
}

@_cdecl("cudaMemcpy_ptds")
public func cudaMemcpy_ptds(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ kind: Int32) -> Int32 {
    cudaMemcpy(destination, source, count, kind)
}

@_cdecl("cudaMemcpy2D")
public func cudaMemcpy2D(_ destination: UnsafeMutableRawPointer?, _ destinationPitch: Int, _ source: UnsafeRawPointer?, _ sourcePitch: Int,
                         _ width: Int, _ height: Int, _ kind: Int32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        rt.copy2D(destination: UInt(bitPattern: destination), destinationPitch: destinationPitch, source: UInt(bitPattern: source),
                  sourcePitch: sourcePitch, width: width, height: height, kind: kind, stream: 0, async: false)
    })
}

@_cdecl("cudaMemcpy2DAsync")
public func cudaMemcpy2DAsync(_ destination: UnsafeMutableRawPointer?, _ destinationPitch: Int, _ source: UnsafeRawPointer?, _ sourcePitch: Int,
                              _ width: Int, _ height: Int, _ kind: Int32, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        rt.copy2D(destination: UInt(bitPattern: destination), destinationPitch: destinationPitch, source: UInt(bitPattern: source),
                  sourcePitch: sourcePitch, width: width, height: height, kind: kind, stream: UInt(bitPattern: stream), async: true)
    })
}

@_cdecl("cudaMemset")
public func cudaMemset(_ destination: UnsafeMutableRawPointer?, _ value: Int32, _ count: Int) -> Int32 {
    cudaMemsetAsync(destination, value, count, nil)
}

@_cdecl("cudaMemsetAsync")
public func cudaMemsetAsync(_ destination: UnsafeMutableRawPointer?, _ value: Int32, _ count: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.memset(UInt(bitPattern: destination), value: UInt8(truncatingIfNeeded: value), count: count,
                                 stream: UInt(bitPattern: stream)))
}

@_cdecl("cudaMemset2D")
public func cudaMemset2D(_ destination: UnsafeMutableRawPointer?, _ pitch: Int, _ value: Int32, _ width: Int, _ height: Int) -> Int32 {
    cudaMemset2DAsync(destination, pitch, value, width, height, nil)
}

@_cdecl("cudaMemset2DAsync")
public func cudaMemset2DAsync(_ destination: UnsafeMutableRawPointer?, _ pitch: Int, _ value: Int32, _ width: Int, _ height: Int,
                              _ stream: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.memset2D(UInt(bitPattern: destination), pitch: pitch, value: UInt8(truncatingIfNeeded: value),
                                   width: width, height: height, stream: UInt(bitPattern: stream)))
}

// MARK: Symbols

private func symbolCopy(_ symbol: UnsafeRawPointer?, offset: Int, count: Int, _ body: (Runtime, UInt) -> Int32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard let symbol else { return CUDAError.invalidSymbol }
        let device = ThreadState.current.device
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        switch rt.resolve(symbol: symbol, device: device) {
        case .failure(let f): return f.code
        case .success(let v):
            guard offset >= 0, count >= 0, offset + count <= v.size else { return CUDAError.invalidValue }
            return body(rt, UInt(v.address) + UInt(offset))
        }
    })
}

@_cdecl("cudaMemcpyToSymbol")
public func cudaMemcpyToSymbol(_ symbol: UnsafeRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ offset: Int, _ kind: Int32) -> Int32 {
    symbolCopy(symbol, offset: offset, count: count) { rt, address in
        rt.copy(destination: address, source: UInt(bitPattern: source), count: count,
                kind: kind == CopyKind.deviceToDevice.rawValue ? kind : CopyKind.hostToDevice.rawValue, stream: 0, async: false)
    }
}

@_cdecl("cudaMemcpyToSymbolAsync")
public func cudaMemcpyToSymbolAsync(_ symbol: UnsafeRawPointer?, _ source: UnsafeRawPointer?, _ count: Int, _ offset: Int, _ kind: Int32,
                                    _ stream: UnsafeMutableRawPointer?) -> Int32 {
    symbolCopy(symbol, offset: offset, count: count) { rt, address in
        rt.copy(destination: address, source: UInt(bitPattern: source), count: count,
                kind: kind == CopyKind.deviceToDevice.rawValue ? kind : CopyKind.hostToDevice.rawValue,
                stream: UInt(bitPattern: stream), async: true)
    }
}

@_cdecl("cudaMemcpyFromSymbol")
public func cudaMemcpyFromSymbol(_ destination: UnsafeMutableRawPointer?, _ symbol: UnsafeRawPointer?, _ count: Int, _ offset: Int, _ kind: Int32) -> Int32 {
    symbolCopy(symbol, offset: offset, count: count) { rt, address in
        rt.copy(destination: UInt(bitPattern: destination), source: address, count: count,
                kind: kind == CopyKind.deviceToDevice.rawValue ? kind : CopyKind.deviceToHost.rawValue, stream: 0, async: false)
    }
}

@_cdecl("cudaMemcpyFromSymbolAsync")
public func cudaMemcpyFromSymbolAsync(_ destination: UnsafeMutableRawPointer?, _ symbol: UnsafeRawPointer?, _ count: Int, _ offset: Int,
                                      _ kind: Int32, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    symbolCopy(symbol, offset: offset, count: count) { rt, address in
        rt.copy(destination: UInt(bitPattern: destination), source: address, count: count,
                kind: kind == CopyKind.deviceToDevice.rawValue ? kind : CopyKind.deviceToHost.rawValue,
                stream: UInt(bitPattern: stream), async: true)
    }
}

@_cdecl("cudaGetSymbolAddress")
public func cudaGetSymbolAddress(_ pointer: UnsafeMutablePointer<UInt>?, _ symbol: UnsafeRawPointer?) -> Int32 {
    symbolCopy(symbol, offset: 0, count: 0) { _, address in
        pointer?.pointee = address
        return 0
    }
}

@_cdecl("cudaGetSymbolSize")
public func cudaGetSymbolSize(_ size: UnsafeMutablePointer<Int>?, _ symbol: UnsafeRawPointer?) -> Int32 {
    let rt = Runtime.shared
    guard let symbol, let v = rt.lock.withLock({ rt.variables[symbol] }) else { return record(CUDAError.invalidSymbol) }
    size?.pointee = v.size
    return 0
}

// MARK: Pointers

@_cdecl("cudaPointerGetAttributes")
public func cudaPointerGetAttributes(_ attributes: UnsafeMutableRawPointer?, _ pointer: UnsafeRawPointer?) -> Int32 {
    guard let attributes else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        // struct cudaPointerAttributes { enum cudaMemoryType type; int device; void *devicePointer; void *hostPointer; }
        let address = UInt(bitPattern: pointer)
        attributes.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        if let device = rt.deviceOwning(address) {
            attributes.storeBytes(of: Int32(2), as: Int32.self)
            attributes.storeBytes(of: Int32(device), toByteOffset: 4, as: Int32.self)
            attributes.storeBytes(of: address, toByteOffset: 8, as: UInt.self)
        } else if rt.pinnedBuffer(containing: address, count: 1) != nil {
            attributes.storeBytes(of: Int32(1), as: Int32.self)
            attributes.storeBytes(of: Int32(ThreadState.current.device), toByteOffset: 4, as: Int32.self)
            attributes.storeBytes(of: address, toByteOffset: 16, as: UInt.self)
        } else {
            attributes.storeBytes(of: Int32(-2), toByteOffset: 4, as: Int32.self)
            attributes.storeBytes(of: address, toByteOffset: 16, as: UInt.self)
        }
        return 0
    })
}

// MARK: Peers

@_cdecl("cudaMemcpyPeer")
public func cudaMemcpyPeer(_ destination: UnsafeMutableRawPointer?, _ destinationDevice: Int32, _ source: UnsafeRawPointer?,
                           _ sourceDevice: Int32, _ count: Int) -> Int32 {
    // vGPUs have no peer access (they may be on different nodes): the data goes through host memory.
    record(Runtime.shared.copyPeer(destination: UInt64(UInt(bitPattern: destination)), destinationDevice: Int(destinationDevice),
                                   source: UInt64(UInt(bitPattern: source)), sourceDevice: Int(sourceDevice), count: count))
}

@_cdecl("cudaMemcpyPeerAsync")
public func cudaMemcpyPeerAsync(_ destination: UnsafeMutableRawPointer?, _ destinationDevice: Int32, _ source: UnsafeRawPointer?,
                                _ sourceDevice: Int32, _ count: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    // Completes before returning, which satisfies every ordering an asynchronous copy promises.
    cudaMemcpyPeer(destination, destinationDevice, source, sourceDevice, count)
}
