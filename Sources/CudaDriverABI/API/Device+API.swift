import TesseraClientCore
import TesseraWire

@_cdecl("cuDeviceGetCount")
public func cuDeviceGetCount(_ count: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let count else { return CUresult.invalidValue }
    switch Driver.shared.devices() {
    case .failure(let f): return f.code
    case .success(let d):
        count.pointee = Int32(d.count)
        return CUresult.success
    }
}

@_cdecl("cuDeviceGet")
public func cuDeviceGet(_ device: UnsafeMutablePointer<Int32>?, _ ordinal: Int32) -> Int32 {
    guard let device else { return CUresult.invalidValue }
    let r = Driver.shared.device(ordinal)
    if case .success = r { device.pointee = ordinal }
    return r.code
}

@_cdecl("cuDeviceGetName")
public func cuDeviceGetName(_ name: UnsafeMutablePointer<CChar>?, _ length: Int32, _ device: Int32) -> Int32 {
    guard let name, length > 0 else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        let bytes = Array(d.name.utf8.prefix(Int(length) - 1))
        for (i, b) in bytes.enumerated() { name[i] = CChar(bitPattern: b) }
        name[bytes.count] = 0
        return CUresult.success
    }
}

@_cdecl("cuDeviceTotalMem_v2")
public func cuDeviceTotalMem_v2(_ bytes: UnsafeMutablePointer<Int>?, _ device: Int32) -> Int32 {
    guard let bytes else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        bytes.pointee = d.totalMemory
        return CUresult.success
    }
}

@_cdecl("cuDeviceGetAttribute")
public func cuDeviceGetAttribute(_ value: UnsafeMutablePointer<Int32>?, _ attribute: Int32, _ device: Int32) -> Int32 {
    guard let value else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        guard var v = DeviceAttributes.value(attribute, of: d) else { return CUresult.invalidValue }
        // The driver offers stream-ordered allocation from each device's default pool (cuMemAllocAsync).
        if attribute == 115 { v = 1 }
        value.pointee = Int32(truncatingIfNeeded: v)
        return CUresult.success
    }
}

@_cdecl("cuDeviceComputeCapability")
public func cuDeviceComputeCapability(_ major: UnsafeMutablePointer<Int32>?, _ minor: UnsafeMutablePointer<Int32>?, _ device: Int32) -> Int32 {
    guard let major, let minor else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        major.pointee = Int32(d.computeCapabilityMajor)
        minor.pointee = Int32(d.computeCapabilityMinor)
        return CUresult.success
    }
}

/// `CUdevprop`: 14 ints, the pre-3.0 property record.
@_cdecl("cuDeviceGetProperties")
public func cuDeviceGetProperties(_ properties: UnsafeMutablePointer<Int32>?, _ device: Int32) -> Int32 {
    guard let properties else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        let values = [d.maxThreadsPerBlock, d.maxBlockDim[0], d.maxBlockDim[1], d.maxBlockDim[2], d.maxGridDim[0], d.maxGridDim[1],
                      d.maxGridDim[2], d.sharedMemoryPerBlock, d.totalConstantMemory, d.warpSize, min(d.memoryPitch, Int(Int32.max)),
                      d.registersPerBlock, d.clockRateKHz, d.textureAlignment]
        for (i, v) in values.enumerated() { properties[i] = Int32(truncatingIfNeeded: v) }
        return CUresult.success
    }
}

private func writeUUID(_ uuid: UnsafeMutablePointer<UInt8>?, _ device: Int32) -> Int32 {
    guard let uuid else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        for i in 0..<16 { uuid[i] = i < d.uuid.count ? d.uuid[i] : 0 }
        return CUresult.success
    }
}

@_cdecl("cuDeviceGetUuid")
public func cuDeviceGetUuid(_ uuid: UnsafeMutablePointer<UInt8>?, _ device: Int32) -> Int32 { writeUUID(uuid, device) }

@_cdecl("cuDeviceGetUuid_v2")
public func cuDeviceGetUuid_v2(_ uuid: UnsafeMutablePointer<UInt8>?, _ device: Int32) -> Int32 { writeUUID(uuid, device) }

private func busID(_ d: VirtualDeviceInfo) -> String {
    let hex = String(d.pciBusID, radix: 16)
    return "0000:" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex + ":00.0"
}

@_cdecl("cuDeviceGetPCIBusId")
public func cuDeviceGetPCIBusId(_ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ device: Int32) -> Int32 {
    guard let buffer, length > 0 else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        let bytes = Array(busID(d).utf8.prefix(Int(length) - 1))
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
        return CUresult.success
    }
}

@_cdecl("cuDeviceGetByPCIBusId")
public func cuDeviceGetByPCIBusId(_ device: UnsafeMutablePointer<Int32>?, _ id: UnsafePointer<CChar>?) -> Int32 {
    guard let device, let id else { return CUresult.invalidValue }
    let wanted = String(cString: id).lowercased()
    switch Driver.shared.devices() {
    case .failure(let f): return f.code
    case .success(let all):
        guard let i = all.firstIndex(where: { busID($0) == wanted || busID($0).dropFirst(5) == wanted[...] }) else { return CUresult.invalidValue }
        device.pointee = Int32(i)
        return CUresult.success
    }
}

@_cdecl("cuDeviceCanAccessPeer")
public func cuDeviceCanAccessPeer(_ canAccess: UnsafeMutablePointer<Int32>?, _ device: Int32, _ peer: Int32) -> Int32 {
    guard let canAccess else { return CUresult.invalidValue }
    if case .failure(let f) = Driver.shared.device(device) { return f.code }
    if case .failure(let f) = Driver.shared.device(peer) { return f.code }
    // vGPUs may live on different nodes: no peer access; peer copies go through the host.
    canAccess.pointee = 0
    return CUresult.success
}

@_cdecl("cuDeviceGetP2PAttribute")
public func cuDeviceGetP2PAttribute(_ value: UnsafeMutablePointer<Int32>?, _ attribute: Int32, _ source: Int32, _ destination: Int32) -> Int32 {
    guard let value else { return CUresult.invalidValue }
    if case .failure(let f) = Driver.shared.device(source) { return f.code }
    if case .failure(let f) = Driver.shared.device(destination) { return f.code }
    value.pointee = 0
    return CUresult.success
}

@_cdecl("cuDeviceGetTexture1DLinearMaxWidth")
public func cuDeviceGetTexture1DLinearMaxWidth(_ width: UnsafeMutablePointer<Int>?, _ format: Int32, _ channels: UInt32, _ device: Int32) -> Int32 {
    guard let width else { return CUresult.invalidValue }
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        width.pointee = DeviceAttributes.value(69, of: d) ?? 0
        return CUresult.success
    }
}

@_cdecl("cuDeviceGetExecAffinitySupport")
public func cuDeviceGetExecAffinitySupport(_ supported: UnsafeMutablePointer<Int32>?, _ type: Int32, _ device: Int32) -> Int32 {
    guard let supported else { return CUresult.invalidValue }
    if case .failure(let f) = Driver.shared.device(device) { return f.code }
    supported.pointee = 0
    return CUresult.success
}

// MARK: Memory pools: each device's default pool is the vGPU's memory (its quota)

@_cdecl("cuDeviceGetDefaultMemPool")
public func cuDeviceGetDefaultMemPool(_ pool: UnsafeMutablePointer<UInt>?, _ device: Int32) -> Int32 {
    guard let pool else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    pool.pointee = driver.withState {
        if let p = driver.pools[Int(device)] { return p }
        // A unique, never-dereferenced address per device.
        let p = UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16))
        driver.pools[Int(device)] = p
        return p
    }
    return CUresult.success
}

@_cdecl("cuDeviceGetMemPool")
public func cuDeviceGetMemPool(_ pool: UnsafeMutablePointer<UInt>?, _ device: Int32) -> Int32 { cuDeviceGetDefaultMemPool(pool, device) }

@_cdecl("cuDeviceSetMemPool")
public func cuDeviceSetMemPool(_ device: Int32, _ pool: UInt) -> Int32 {
    var current: UInt = 0
    let e = cuDeviceGetDefaultMemPool(&current, device)
    if e != 0 { return e }
    return current == pool ? CUresult.success : CUresult.notSupported
}

/// The device a pool handle belongs to.
func poolDevice(_ pool: UInt) -> Int? {
    let driver = Driver.shared
    return driver.withState { driver.pools.first { $0.value == pool }?.key }
}

@_cdecl("cuMemPoolSetAttribute")
public func cuMemPoolSetAttribute(_ pool: UInt, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard poolDevice(pool) != nil else { return CUresult.invalidHandle }
    guard value != nil else { return CUresult.invalidValue }
    return CUresult.success  // thresholds and reuse policies: Tessera frees at once, within the quota
}

@_cdecl("cuMemPoolGetAttribute")
public func cuMemPoolGetAttribute(_ pool: UInt, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard poolDevice(pool) != nil else { return CUresult.invalidHandle }
    guard let value else { return CUresult.invalidValue }
    switch attribute {
    case 1, 2, 3: value.storeBytes(of: Int32(0), as: Int32.self)  // reuse policies
    default: value.storeBytes(of: UInt64(0), as: UInt64.self)  // threshold, reserved and used high-water marks
    }
    return CUresult.success
}

@_cdecl("cuMemPoolTrimTo")
public func cuMemPoolTrimTo(_ pool: UInt, _ keep: Int) -> Int32 {
    poolDevice(pool) != nil ? CUresult.success : CUresult.invalidHandle
}
