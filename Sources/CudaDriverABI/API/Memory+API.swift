#if canImport(Glibc)
import Glibc
#endif
import TesseraClientCore

private func onDevice(_ body: (Int) -> Int32) -> Int32 { Driver.shared.onCurrentDevice(body) }
private var core: ClientCore { Driver.shared.core }

@_cdecl("cuMemAlloc_v2")
public func cuMemAlloc_v2(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int) -> Int32 {
    guard let pointer, size > 0 else { return CUresult.invalidValue }
    return onDevice { device in
        let (e, address) = core.allocate(size, device: device)
        if e == 0 { pointer.pointee = address }
        return CUresult.from(e)
    }
}

@_cdecl("cuMemFree_v2")
public func cuMemFree_v2(_ pointer: UInt64) -> Int32 {
    onDevice { _ in pointer == 0 ? CUresult.success : CUresult.from(core.free(pointer)) }
}

@_cdecl("cuMemAllocPitch_v2")
public func cuMemAllocPitch_v2(_ pointer: UnsafeMutablePointer<UInt64>?, _ pitch: UnsafeMutablePointer<Int>?, _ width: Int, _ height: Int,
                               _ elementSize: UInt32) -> Int32 {
    guard let pitch, [4, 8, 16].contains(elementSize), width > 0, height > 0 else { return CUresult.invalidValue }
    let p = (width + 511) & ~511
    let e = cuMemAlloc_v2(pointer, p * height)
    if e == 0 { pitch.pointee = p }
    return e
}

@_cdecl("cuMemGetInfo_v2")
public func cuMemGetInfo_v2(_ free: UnsafeMutablePointer<Int>?, _ total: UnsafeMutablePointer<Int>?) -> Int32 {
    onDevice { device in
        let saved = ThreadState.current.device
        ThreadState.current.device = device
        defer { ThreadState.current.device = saved }
        let (e, f, t) = core.memoryInfo()
        if e == 0 {
            free?.pointee = f
            total?.pointee = t
        }
        return CUresult.from(e)
    }
}

@_cdecl("cuMemGetAddressRange_v2")
public func cuMemGetAddressRange_v2(_ base: UnsafeMutablePointer<UInt64>?, _ size: UnsafeMutablePointer<Int>?, _ pointer: UInt64) -> Int32 {
    onDevice { _ in
        guard case .device(_, let b, let s) = core.pointerKind(UInt(pointer)), s > 0 else { return CUresult.notFound }
        base?.pointee = b
        size?.pointee = s
        return CUresult.success
    }
}

// MARK: Stream-ordered allocation (the device's default pool is the vGPU's memory)

@_cdecl("cuMemAllocAsync")
public func cuMemAllocAsync(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int, _ stream: UInt) -> Int32 {
    guard let pointer, size > 0 else { return CUresult.invalidValue }
    return onDevice { device in
        let target = core.streamDevice(stream) ?? device
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        let (e, address) = core.allocate(size, device: target)
        if e == 0 { pointer.pointee = address }
        return CUresult.from(e)
    }
}

@_cdecl("cuMemAllocAsync_ptsz")
public func cuMemAllocAsync_ptsz(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int, _ stream: UInt) -> Int32 {
    cuMemAllocAsync(pointer, size, stream)
}

@_cdecl("cuMemAllocFromPoolAsync")
public func cuMemAllocFromPoolAsync(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int, _ pool: UInt, _ stream: UInt) -> Int32 {
    guard poolDevice(pool) != nil else { return CUresult.invalidHandle }
    return cuMemAllocAsync(pointer, size, stream)
}

@_cdecl("cuMemAllocFromPoolAsync_ptsz")
public func cuMemAllocFromPoolAsync_ptsz(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int, _ pool: UInt, _ stream: UInt) -> Int32 {
    cuMemAllocFromPoolAsync(pointer, size, pool, stream)
}

@_cdecl("cuMemFreeAsync")
public func cuMemFreeAsync(_ pointer: UInt64, _ stream: UInt) -> Int32 {
    onDevice { _ in
        // Freed once the stream's earlier work (which may still use it) is done.
        let e = core.synchronizeStream(stream)
        if e != 0 { return CUresult.from(e) }
        return pointer == 0 ? CUresult.success : CUresult.from(core.free(pointer))
    }
}

@_cdecl("cuMemFreeAsync_ptsz")
public func cuMemFreeAsync_ptsz(_ pointer: UInt64, _ stream: UInt) -> Int32 { cuMemFreeAsync(pointer, stream) }

// MARK: Host memory

@_cdecl("cuMemHostAlloc")
public func cuMemHostAlloc(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int, _ flags: UInt32) -> Int32 {
    guard let pointer, size > 0 else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    let (e, base) = core.allocateHost(size)
    if e == 0 { pointer.pointee = UnsafeMutableRawPointer(bitPattern: base) }
    return CUresult.from(e)
}

@_cdecl("cuMemAllocHost_v2")
public func cuMemAllocHost_v2(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ size: Int) -> Int32 {
    cuMemHostAlloc(pointer, size, 0)
}

@_cdecl("cuMemFreeHost")
public func cuMemFreeHost(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    return CUresult.from(core.freeHost(UInt(bitPattern: pointer)))
}

@_cdecl("cuMemHostGetFlags")
public func cuMemHostGetFlags(_ flags: UnsafeMutablePointer<UInt32>?, _ pointer: UnsafeMutableRawPointer?) -> Int32 {
    guard let flags else { return CUresult.invalidValue }
    guard case .host = core.pointerKind(UInt(bitPattern: pointer)) else { return CUresult.invalidValue }
    flags.pointee = 0
    return CUresult.success
}

/// Registered host memory stays the program's own (see ``ClientCore/registerHost(_:size:deviceMap:)``); with
/// CU_MEMHOSTREGISTER_DEVICEMAP, a shared mapping of a sealed memfd is also mapped into the devices at its own
/// address (`cuMemHostGetDevicePointer` returns it), as `cuMemHostAlloc`'s memory is.
@_cdecl("cuMemHostRegister_v2")
public func cuMemHostRegister_v2(_ pointer: UnsafeMutableRawPointer?, _ size: Int, _ flags: UInt32) -> Int32 {
    guard let pointer, size > 0 else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    // CU_MEMHOSTREGISTER_DEVICEMAP = 0x02.
    return CUresult.from(core.registerHost(UInt(bitPattern: pointer), size: size, deviceMap: flags & 0x02 != 0))
}

@_cdecl("cuMemHostUnregister")
public func cuMemHostUnregister(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    CUresult.from(core.unregisterHost(UInt(bitPattern: pointer)))
}

@_cdecl("cuMemHostGetDevicePointer_v2")
public func cuMemHostGetDevicePointer_v2(_ device: UnsafeMutablePointer<UInt64>?, _ host: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    guard let device, let host, flags == 0 else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    // Pinned memory is mapped into the devices at the program's own address (unified addressing).
    let (e, address) = core.hostDevicePointer(UInt(bitPattern: host))
    if e == 0 { device.pointee = address }
    return CUresult.from(e)
}

// MARK: Memset

/// Fills `count` elements of `width` bytes with `value`: byte fills go to the node as one pipelined request;
/// wider patterns of unequal bytes are written through a host buffer.
private func fill(_ destination: UInt64, _ value: UInt32, width: Int, count: Int, stream: UInt, async: Bool) -> Int32 {
    onDevice { _ in
        let bytes = (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        if bytes.allSatisfy({ $0 == bytes[0] }) {
            return CUresult.from(core.memset(UInt(destination), value: bytes[0], count: count * width, stream: stream))
        }
        let pattern = UnsafeMutableRawBufferPointer.allocate(byteCount: count * width, alignment: 16)
        defer { pattern.deallocate() }
        for i in 0..<count * width { pattern[i] = bytes[i % width] }
        return CUresult.from(core.lock.withLock {
            core.copy(destination: UInt(destination), source: UInt(bitPattern: pattern.baseAddress), count: count * width,
                      kind: CopyKind.hostToDevice.rawValue, stream: stream, async: false)
        })
    }
}

/// 2D fills: one request per row unless the rows are contiguous.
private func fill2D(_ destination: UInt64, _ pitch: Int, _ value: UInt32, width: Int, columns: Int, height: Int, stream: UInt) -> Int32 {
    let rowBytes = columns * width
    guard pitch >= rowBytes else { return CUresult.invalidValue }
    if width == 1 || (0..<width).allSatisfy({ UInt8(truncatingIfNeeded: value >> (8 * $0)) == UInt8(truncatingIfNeeded: value) }) {
        return onDevice { _ in
            CUresult.from(core.memset2D(UInt(destination), pitch: pitch, value: UInt8(truncatingIfNeeded: value), width: rowBytes,
                                        height: height, stream: stream))
        }
    }
    for row in 0..<height {
        let e = fill(destination + UInt64(row * pitch), value, width: width, count: columns, stream: stream, async: false)
        if e != 0 { return e }
    }
    return CUresult.success
}

@_cdecl("cuMemsetD8_v2")
public func cuMemsetD8_v2(_ d: UInt64, _ v: UInt8, _ n: Int) -> Int32 { fill(d, UInt32(v), width: 1, count: n, stream: 0, async: false) }
@_cdecl("cuMemsetD16_v2")
public func cuMemsetD16_v2(_ d: UInt64, _ v: UInt16, _ n: Int) -> Int32 { fill(d, UInt32(v), width: 2, count: n, stream: 0, async: false) }
@_cdecl("cuMemsetD32_v2")
public func cuMemsetD32_v2(_ d: UInt64, _ v: UInt32, _ n: Int) -> Int32 { fill(d, v, width: 4, count: n, stream: 0, async: false) }
@_cdecl("cuMemsetD8Async")
public func cuMemsetD8Async(_ d: UInt64, _ v: UInt8, _ n: Int, _ s: UInt) -> Int32 { fill(d, UInt32(v), width: 1, count: n, stream: s, async: true) }
@_cdecl("cuMemsetD16Async")
public func cuMemsetD16Async(_ d: UInt64, _ v: UInt16, _ n: Int, _ s: UInt) -> Int32 { fill(d, UInt32(v), width: 2, count: n, stream: s, async: true) }
@_cdecl("cuMemsetD32Async")
public func cuMemsetD32Async(_ d: UInt64, _ v: UInt32, _ n: Int, _ s: UInt) -> Int32 { fill(d, v, width: 4, count: n, stream: s, async: true) }
@_cdecl("cuMemsetD2D8_v2")
public func cuMemsetD2D8_v2(_ d: UInt64, _ p: Int, _ v: UInt8, _ w: Int, _ h: Int) -> Int32 { fill2D(d, p, UInt32(v), width: 1, columns: w, height: h, stream: 0) }
@_cdecl("cuMemsetD2D16_v2")
public func cuMemsetD2D16_v2(_ d: UInt64, _ p: Int, _ v: UInt16, _ w: Int, _ h: Int) -> Int32 { fill2D(d, p, UInt32(v), width: 2, columns: w, height: h, stream: 0) }
@_cdecl("cuMemsetD2D32_v2")
public func cuMemsetD2D32_v2(_ d: UInt64, _ p: Int, _ v: UInt32, _ w: Int, _ h: Int) -> Int32 { fill2D(d, p, v, width: 4, columns: w, height: h, stream: 0) }
@_cdecl("cuMemsetD2D8Async")
public func cuMemsetD2D8Async(_ d: UInt64, _ p: Int, _ v: UInt8, _ w: Int, _ h: Int, _ s: UInt) -> Int32 { fill2D(d, p, UInt32(v), width: 1, columns: w, height: h, stream: s) }
@_cdecl("cuMemsetD2D16Async")
public func cuMemsetD2D16Async(_ d: UInt64, _ p: Int, _ v: UInt16, _ w: Int, _ h: Int, _ s: UInt) -> Int32 { fill2D(d, p, UInt32(v), width: 2, columns: w, height: h, stream: s) }
@_cdecl("cuMemsetD2D32Async")
public func cuMemsetD2D32Async(_ d: UInt64, _ p: Int, _ v: UInt32, _ w: Int, _ h: Int, _ s: UInt) -> Int32 { fill2D(d, p, v, width: 4, columns: w, height: h, stream: s) }

// MARK: Copies

/// A linear copy through the core (which routes it to the node of the device pointer's vGPU).
private func copy(_ destination: UInt, _ source: UInt, _ count: Int, _ kind: CopyKind, stream: UInt = 0, async: Bool = false) -> Int32 {
    onDevice { _ in
        CUresult.from(core.lock.withLock {
            if case .failure(let f) = core.connection() { return f.code }
            return core.copy(destination: destination, source: source, count: count, kind: kind.rawValue, stream: stream, async: async)
        })
    }
}

@_cdecl("cuMemcpyHtoD_v2")
public func cuMemcpyHtoD_v2(_ d: UInt64, _ s: UnsafeRawPointer?, _ n: Int) -> Int32 { copy(UInt(d), UInt(bitPattern: s), n, .hostToDevice) }
@_cdecl("cuMemcpyDtoH_v2")
public func cuMemcpyDtoH_v2(_ d: UnsafeMutableRawPointer?, _ s: UInt64, _ n: Int) -> Int32 { copy(UInt(bitPattern: d), UInt(s), n, .deviceToHost) }
@_cdecl("cuMemcpyDtoD_v2")
public func cuMemcpyDtoD_v2(_ d: UInt64, _ s: UInt64, _ n: Int) -> Int32 { copy(UInt(d), UInt(s), n, .deviceToDevice) }
@_cdecl("cuMemcpy")
public func cuMemcpy(_ d: UInt64, _ s: UInt64, _ n: Int) -> Int32 { copy(UInt(d), UInt(s), n, .automatic) }
@_cdecl("cuMemcpyHtoDAsync_v2")
public func cuMemcpyHtoDAsync_v2(_ d: UInt64, _ s: UnsafeRawPointer?, _ n: Int, _ st: UInt) -> Int32 {
    copy(UInt(d), UInt(bitPattern: s), n, .hostToDevice, stream: st, async: true)
}
@_cdecl("cuMemcpyDtoHAsync_v2")
public func cuMemcpyDtoHAsync_v2(_ d: UnsafeMutableRawPointer?, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 {
    copy(UInt(bitPattern: d), UInt(s), n, .deviceToHost, stream: st, async: true)
}
@_cdecl("cuMemcpyDtoDAsync_v2")
public func cuMemcpyDtoDAsync_v2(_ d: UInt64, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 { copy(UInt(d), UInt(s), n, .deviceToDevice, stream: st, async: true) }
@_cdecl("cuMemcpyAsync")
public func cuMemcpyAsync(_ d: UInt64, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 { copy(UInt(d), UInt(s), n, .automatic, stream: st, async: true) }

// Per-thread default stream forms: Tessera's per-thread default stream is the device's default stream.
@_cdecl("cuMemcpyHtoD_v2_ptds")
public func cuMemcpyHtoD_v2_ptds(_ d: UInt64, _ s: UnsafeRawPointer?, _ n: Int) -> Int32 { cuMemcpyHtoD_v2(d, s, n) }
@_cdecl("cuMemcpyDtoH_v2_ptds")
public func cuMemcpyDtoH_v2_ptds(_ d: UnsafeMutableRawPointer?, _ s: UInt64, _ n: Int) -> Int32 { cuMemcpyDtoH_v2(d, s, n) }
@_cdecl("cuMemcpyDtoD_v2_ptds")
public func cuMemcpyDtoD_v2_ptds(_ d: UInt64, _ s: UInt64, _ n: Int) -> Int32 { cuMemcpyDtoD_v2(d, s, n) }
@_cdecl("cuMemcpy_ptds")
public func cuMemcpy_ptds(_ d: UInt64, _ s: UInt64, _ n: Int) -> Int32 { cuMemcpy(d, s, n) }
@_cdecl("cuMemcpyHtoDAsync_v2_ptsz")
public func cuMemcpyHtoDAsync_v2_ptsz(_ d: UInt64, _ s: UnsafeRawPointer?, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyHtoDAsync_v2(d, s, n, st) }
@_cdecl("cuMemcpyDtoHAsync_v2_ptsz")
public func cuMemcpyDtoHAsync_v2_ptsz(_ d: UnsafeMutableRawPointer?, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyDtoHAsync_v2(d, s, n, st) }
@_cdecl("cuMemcpyDtoDAsync_v2_ptsz")
public func cuMemcpyDtoDAsync_v2_ptsz(_ d: UInt64, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyDtoDAsync_v2(d, s, n, st) }
@_cdecl("cuMemcpyAsync_ptsz")
public func cuMemcpyAsync_ptsz(_ d: UInt64, _ s: UInt64, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyAsync(d, s, n, st) }
@_cdecl("cuMemsetD8_v2_ptds")
public func cuMemsetD8_v2_ptds(_ d: UInt64, _ v: UInt8, _ n: Int) -> Int32 { cuMemsetD8_v2(d, v, n) }
@_cdecl("cuMemsetD16_v2_ptds")
public func cuMemsetD16_v2_ptds(_ d: UInt64, _ v: UInt16, _ n: Int) -> Int32 { cuMemsetD16_v2(d, v, n) }
@_cdecl("cuMemsetD32_v2_ptds")
public func cuMemsetD32_v2_ptds(_ d: UInt64, _ v: UInt32, _ n: Int) -> Int32 { cuMemsetD32_v2(d, v, n) }
@_cdecl("cuMemsetD8Async_ptsz")
public func cuMemsetD8Async_ptsz(_ d: UInt64, _ v: UInt8, _ n: Int, _ s: UInt) -> Int32 { cuMemsetD8Async(d, v, n, s) }
@_cdecl("cuMemsetD16Async_ptsz")
public func cuMemsetD16Async_ptsz(_ d: UInt64, _ v: UInt16, _ n: Int, _ s: UInt) -> Int32 { cuMemsetD16Async(d, v, n, s) }
@_cdecl("cuMemsetD32Async_ptsz")
public func cuMemsetD32Async_ptsz(_ d: UInt64, _ v: UInt32, _ n: Int, _ s: UInt) -> Int32 { cuMemsetD32Async(d, v, n, s) }

// MARK: Peer copies (between vGPUs: through the host)

private func contextDevice(_ handle: UInt) -> Int? {
    let driver = Driver.shared
    return driver.withState { driver.contexts[handle]?.device }
}

@_cdecl("cuMemcpyPeer")
public func cuMemcpyPeer(_ d: UInt64, _ dc: UInt, _ s: UInt64, _ sc: UInt, _ n: Int) -> Int32 {
    guard let to = contextDevice(dc), let from = contextDevice(sc) else { return CUresult.invalidContext }
    return CUresult.from(core.copyPeer(destination: d, destinationDevice: to, source: s, sourceDevice: from, count: n))
}
@_cdecl("cuMemcpyPeerAsync")
public func cuMemcpyPeerAsync(_ d: UInt64, _ dc: UInt, _ s: UInt64, _ sc: UInt, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyPeer(d, dc, s, sc, n) }
@_cdecl("cuMemcpyPeer_ptds")
public func cuMemcpyPeer_ptds(_ d: UInt64, _ dc: UInt, _ s: UInt64, _ sc: UInt, _ n: Int) -> Int32 { cuMemcpyPeer(d, dc, s, sc, n) }
@_cdecl("cuMemcpyPeerAsync_ptsz")
public func cuMemcpyPeerAsync_ptsz(_ d: UInt64, _ dc: UInt, _ s: UInt64, _ sc: UInt, _ n: Int, _ st: UInt) -> Int32 { cuMemcpyPeer(d, dc, s, sc, n) }

// MARK: 2D and 3D copies

/// One side of a `CUDA_MEMCPY2D`/`3D`: memory type (1 host, 2 device, 3 array, 4 unified) and its address.
private func side(_ p: UnsafeRawPointer, type: Int, host: Int, device: Int) -> (address: UInt, onDevice: Bool)? {
    switch p.loadUnaligned(fromByteOffset: type, as: UInt32.self) {
    case 1: return (UInt(bitPattern: p.loadUnaligned(fromByteOffset: host, as: UnsafeRawPointer?.self)), false)
    case 2: return (UInt(p.loadUnaligned(fromByteOffset: device, as: UInt64.self)), true)
    case 4:
        let a = UInt(p.loadUnaligned(fromByteOffset: device, as: UInt64.self))
        if case .device = core.pointerKind(a) { return (a, true) }
        return (a, false)
    default: return nil  // arrays are not offered
    }
}

private func kind(_ fromDevice: Bool, _ toDevice: Bool) -> CopyKind {
    switch (fromDevice, toDevice) {
    case (false, false): .hostToHost
    case (false, true): .hostToDevice
    case (true, false): .deviceToHost
    case (true, true): .deviceToDevice
    }
}

/// `CUDA_MEMCPY2D` (128 bytes): src x, y, type, host, device, array, pitch; the same for dst; width, height.
private func copy2D(_ p: UnsafeRawPointer?, stream: UInt, async: Bool) -> Int32 {
    guard let p else { return CUresult.invalidValue }
    let w = { (o: Int) in p.loadUnaligned(fromByteOffset: o, as: Int.self) }
    guard let src = side(p, type: 16, host: 24, device: 32), let dst = side(p, type: 72, host: 80, device: 88) else { return CUresult.notSupported }
    let srcPitch = w(48), dstPitch = w(104), width = w(112), height = w(120)
    let source = src.address + UInt(w(0) + w(8) * srcPitch), destination = dst.address + UInt(w(56) + w(64) * dstPitch)
    return onDevice { _ in
        CUresult.from(core.lock.withLock {
            core.copy2D(destination: destination, destinationPitch: dstPitch, source: source, sourcePitch: srcPitch, width: width,
                        height: height, kind: kind(src.onDevice, dst.onDevice).rawValue, stream: stream, async: async)
        })
    }
}

@_cdecl("cuMemcpy2D_v2")
public func cuMemcpy2D_v2(_ p: UnsafeRawPointer?) -> Int32 { copy2D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy2DUnaligned_v2")
public func cuMemcpy2DUnaligned_v2(_ p: UnsafeRawPointer?) -> Int32 { copy2D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy2DAsync_v2")
public func cuMemcpy2DAsync_v2(_ p: UnsafeRawPointer?, _ s: UInt) -> Int32 { copy2D(p, stream: s, async: true) }
@_cdecl("cuMemcpy2D_v2_ptds")
public func cuMemcpy2D_v2_ptds(_ p: UnsafeRawPointer?) -> Int32 { copy2D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy2DUnaligned_v2_ptds")
public func cuMemcpy2DUnaligned_v2_ptds(_ p: UnsafeRawPointer?) -> Int32 { copy2D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy2DAsync_v2_ptsz")
public func cuMemcpy2DAsync_v2_ptsz(_ p: UnsafeRawPointer?, _ s: UInt) -> Int32 { copy2D(p, stream: s, async: true) }

/// `CUDA_MEMCPY3D` (200 bytes): src x, y, z, lod, type, host, device, array, reserved, pitch, height; the
/// same for dst; width, height, depth. Copied as one 2D copy per slice.
private func copy3D(_ p: UnsafeRawPointer?, stream: UInt, async: Bool) -> Int32 {
    guard let p else { return CUresult.invalidValue }
    let w = { (o: Int) in p.loadUnaligned(fromByteOffset: o, as: Int.self) }
    guard let src = side(p, type: 32, host: 40, device: 48), let dst = side(p, type: 120, host: 128, device: 136) else { return CUresult.notSupported }
    let srcPitch = w(72), srcHeight = w(80), dstPitch = w(160), dstHeight = w(168)
    let width = w(176), height = w(184), depth = w(192)
    let source = src.address + UInt(w(0) + (w(8) + w(16) * srcHeight) * srcPitch)
    let destination = dst.address + UInt(w(88) + (w(96) + w(104) * dstHeight) * dstPitch)
    return onDevice { _ in
        for z in 0..<depth {
            let e = core.lock.withLock {
                core.copy2D(destination: destination + UInt(z * dstHeight * dstPitch), destinationPitch: dstPitch,
                            source: source + UInt(z * srcHeight * srcPitch), sourcePitch: srcPitch, width: width, height: height,
                            kind: kind(src.onDevice, dst.onDevice).rawValue, stream: stream, async: async)
            }
            if e != 0 { return CUresult.from(e) }
        }
        return CUresult.success
    }
}

@_cdecl("cuMemcpy3D_v2")
public func cuMemcpy3D_v2(_ p: UnsafeRawPointer?) -> Int32 { copy3D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy3DAsync_v2")
public func cuMemcpy3DAsync_v2(_ p: UnsafeRawPointer?, _ s: UInt) -> Int32 { copy3D(p, stream: s, async: true) }
@_cdecl("cuMemcpy3D_v2_ptds")
public func cuMemcpy3D_v2_ptds(_ p: UnsafeRawPointer?) -> Int32 { copy3D(p, stream: 0, async: false) }
@_cdecl("cuMemcpy3DAsync_v2_ptsz")
public func cuMemcpy3DAsync_v2_ptsz(_ p: UnsafeRawPointer?, _ s: UInt) -> Int32 { copy3D(p, stream: s, async: true) }

// MARK: Pointer attributes

/// Writes one `CUpointer_attribute` of `pointer`.
private func pointerAttribute(_ data: UnsafeMutableRawPointer, _ attribute: Int32, _ pointer: UInt64) -> Int32 {
    let driver = Driver.shared
    let kind = core.pointerKind(UInt(pointer))
    let registered = core.isRegisteredHost(UInt(pointer))
    let device: Int?
    switch kind {
    case .device(let d, _, _): device = d
    default: device = nil
    }
    let isHost: Bool = { if case .host = kind { return true }; return registered }()
    guard device != nil || isHost else { return CUresult.invalidValue }
    switch attribute {
    case 1:  // context
        let handle = driver.withState { driver.primaryContext(device ?? ThreadState.current.device).handle }
        data.storeBytes(of: handle, as: UInt.self)
    case 2: data.storeBytes(of: UInt32(device != nil ? 2 : 1), as: UInt32.self)  // memory type
    case 3: data.storeBytes(of: device != nil ? pointer : 0, as: UInt64.self)  // device pointer
    case 4: data.storeBytes(of: device == nil ? pointer : 0, as: UInt64.self)  // host pointer
    case 6: data.storeBytes(of: UInt32(1), as: UInt32.self)  // sync memops
    case 7: data.storeBytes(of: pointer, as: UInt64.self)  // buffer id
    case 8, 10, 13, 15: data.storeBytes(of: UInt32(0), as: UInt32.self)  // managed, IPC, mapped, RDMA
    case 9: data.storeBytes(of: Int32(device ?? ThreadState.current.device), as: Int32.self)
    case 11, 12:
        var base = pointer, size = 0
        switch kind {
        case .device(_, let b, let s): (base, size) = (b, s)
        case .host(let b, let s): (base, size) = (UInt64(b), s)
        case .unknown: break
        }
        if attribute == 11 { data.storeBytes(of: base, as: UInt64.self) } else { data.storeBytes(of: size, as: Int.self) }
    case 14: data.storeBytes(of: UInt64(0), as: UInt64.self)
    case 16: data.storeBytes(of: UInt32(3), as: UInt32.self)  // read/write access
    case 17: data.storeBytes(of: UInt(0), as: UInt.self)
    default: return CUresult.invalidValue
    }
    return CUresult.success
}

@_cdecl("cuPointerGetAttribute")
public func cuPointerGetAttribute(_ data: UnsafeMutableRawPointer?, _ attribute: Int32, _ pointer: UInt64) -> Int32 {
    guard let data else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    return pointerAttribute(data, attribute, pointer)
}

@_cdecl("cuPointerGetAttributes")
public func cuPointerGetAttributes(_ count: UInt32, _ attributes: UnsafePointer<Int32>?, _ data: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                   _ pointer: UInt64) -> Int32 {
    guard let attributes, let data else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    for i in 0..<Int(count) {
        guard let out = data[i] else { continue }
        if pointerAttribute(out, attributes[i], pointer) != 0 {
            // Memory CUDA does not know: type 0 and zeros, as the driver answers for plain host memory.
            out.storeBytes(of: UInt64(0), as: UInt64.self)
            if attributes[i] == 9 { out.storeBytes(of: Int32(-2), as: Int32.self) }
        }
    }
    return CUresult.success
}

@_cdecl("cuPointerSetAttribute")
public func cuPointerSetAttribute(_ value: UnsafeRawPointer?, _ attribute: Int32, _ pointer: UInt64) -> Int32 {
    attribute == 6 ? CUresult.success : CUresult.notSupported  // sync memops are always on
}
