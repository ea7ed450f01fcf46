import TesseraClientCore
import TesseraWire

// CUDA's virtual memory management, executed by the vGPU's node (see VirtualMemoryOperation). Layouts from
// cuda.h: CUmemAllocationProp { int type; int requestedHandleTypes; CUmemLocation location { int type; int id };
// void *win32HandleMetaData; struct allocFlags (8 bytes) }; CUmemAccessDesc { CUmemLocation location; int flags }.

private var core: ClientCore { Driver.shared.core }

/// CU_MEM_ALLOCATION_TYPE_PINNED and CU_MEM_LOCATION_TYPE_DEVICE.
private let pinnedType: Int32 = 1
private let deviceLocation: Int32 = 1

/// The device a `CUmemAllocationProp` names, when it asks for plain device memory.
private func device(of prop: UnsafeRawPointer?) -> Int? {
    guard let prop else { return nil }
    let type = prop.load(fromByteOffset: 0, as: Int32.self)
    let locationType = prop.load(fromByteOffset: 8, as: Int32.self)
    let id = prop.load(fromByteOffset: 12, as: Int32.self)
    guard type == pinnedType, locationType == deviceLocation, id >= 0 else { return nil }
    return Int(id)
}

@_cdecl("cuMemGetAllocationGranularity")
public func cuMemGetAllocationGranularity(_ granularity: UnsafeMutablePointer<Int>?, _ prop: UnsafeRawPointer?, _ option: Int32) -> Int32 {
    guard let granularity, let d = device(of: prop) else { return CUresult.invalidValue }
    // Minimum (0) and recommended (1) granularity are the same on the vGPU.
    guard option == 0 || option == 1 else { return CUresult.invalidValue }
    let (e, value) = core.virtualMemory(.granularity, device: d)
    if e == 0 { granularity.pointee = Int(value) }
    return CUresult.from(e)
}

@_cdecl("cuMemAddressReserve")
public func cuMemAddressReserve(_ pointer: UnsafeMutablePointer<UInt64>?, _ size: Int, _ alignment: Int, _ hint: UInt64, _ flags: UInt64) -> Int32 {
    guard let pointer, size > 0, flags == 0 else { return CUresult.invalidValue }
    // A reservation lives on the current device's vGPU; memory of that vGPU is mapped into it.
    let (e, address) = core.virtualMemory(.reserve(size: size, alignment: alignment, hint: hint), device: nil)
    if e == 0 { pointer.pointee = address }
    return CUresult.from(e)
}

@_cdecl("cuMemAddressFree")
public func cuMemAddressFree(_ pointer: UInt64, _ size: Int) -> Int32 {
    guard let d = core.reservationDevice(pointer) else { return CUresult.invalidValue }
    return CUresult.from(core.virtualMemory(.free(address: pointer, size: size), device: d).0)
}

@_cdecl("cuMemCreate")
public func cuMemCreate(_ handle: UnsafeMutablePointer<UInt64>?, _ size: Int, _ prop: UnsafeRawPointer?, _ flags: UInt64) -> Int32 {
    guard let handle, size > 0, flags == 0, let d = device(of: prop) else { return CUresult.invalidValue }
    let (e, h) = core.virtualMemory(.create(size: size), device: d)
    if e == 0 { handle.pointee = ClientCore.programHandle(h, device: d) }
    return CUresult.from(e)
}

@_cdecl("cuMemRelease")
public func cuMemRelease(_ handle: UInt64) -> Int32 {
    let (d, h) = ClientCore.nodeHandle(handle)
    return CUresult.from(core.virtualMemory(.release(handle: h), device: d).0)
}

@_cdecl("cuMemMap")
public func cuMemMap(_ pointer: UInt64, _ size: Int, _ offset: Int, _ handle: UInt64, _ flags: UInt64) -> Int32 {
    guard flags == 0 else { return CUresult.invalidValue }
    let (d, h) = ClientCore.nodeHandle(handle)
    // Memory of one vGPU maps only into a reservation of the same vGPU (both live on its node).
    guard core.reservationDevice(pointer) == d else { return CUresult.invalidValue }
    return CUresult.from(core.virtualMemory(.map(address: pointer, size: size, offset: offset, handle: h), device: d).0)
}

@_cdecl("cuMemUnmap")
public func cuMemUnmap(_ pointer: UInt64, _ size: Int) -> Int32 {
    guard let d = core.reservationDevice(pointer) else { return CUresult.invalidValue }
    return CUresult.from(core.virtualMemory(.unmap(address: pointer, size: size), device: d).0)
}

@_cdecl("cuMemSetAccess")
public func cuMemSetAccess(_ pointer: UInt64, _ size: Int, _ descriptors: UnsafeRawPointer?, _ count: Int) -> Int32 {
    guard let descriptors, count > 0, let d = core.reservationDevice(pointer) else { return CUresult.invalidValue }
    var flags: UInt32?
    for i in 0..<count {
        let base = descriptors + i * 12
        guard base.load(fromByteOffset: 0, as: Int32.self) == deviceLocation else { return CUresult.invalidValue }
        let id = Int(base.load(fromByteOffset: 4, as: Int32.self))
        // Other devices cannot reach this vGPU's memory (no peer access between vGPUs).
        guard id == d else { return CUresult.invalidDevice }
        flags = base.load(fromByteOffset: 8, as: UInt32.self)
    }
    guard let flags else { return CUresult.invalidValue }
    return CUresult.from(core.virtualMemory(.setAccess(address: pointer, size: size, flags: flags), device: d).0)
}

@_cdecl("cuMemGetAccess")
public func cuMemGetAccess(_ flags: UnsafeMutablePointer<UInt64>?, _ location: UnsafeRawPointer?, _ pointer: UInt64) -> Int32 {
    guard let flags, let location, location.load(fromByteOffset: 0, as: Int32.self) == deviceLocation,
          let d = core.reservationDevice(pointer) else { return CUresult.invalidValue }
    guard Int(location.load(fromByteOffset: 4, as: Int32.self)) == d else {
        flags.pointee = 0
        return CUresult.success
    }
    let (e, value) = core.virtualMemory(.getAccess(address: pointer), device: d)
    if e == 0 { flags.pointee = value }
    return CUresult.from(e)
}

@_cdecl("cuMemRetainAllocationHandle")
public func cuMemRetainAllocationHandle(_ handle: UnsafeMutablePointer<UInt64>?, _ address: UnsafeMutableRawPointer?) -> Int32 {
    guard let handle, let address else { return CUresult.invalidValue }
    let pointer = UInt64(UInt(bitPattern: address))
    guard let d = core.reservationDevice(pointer) else { return CUresult.invalidValue }
    let (e, h) = core.virtualMemory(.retain(address: pointer), device: d)
    if e == 0 { handle.pointee = ClientCore.programHandle(h, device: d) }
    return CUresult.from(e)
}
