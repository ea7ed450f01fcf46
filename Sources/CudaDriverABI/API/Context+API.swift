import CCudaDriver
import TesseraClientCore

// MARK: Primary contexts

@_cdecl("cuDevicePrimaryCtxRetain")
public func cuDevicePrimaryCtxRetain(_ context: UnsafeMutablePointer<UInt>?, _ device: Int32) -> Int32 {
    guard let context else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    context.pointee = driver.withState {
        let c = driver.primaryContext(Int(device))
        c.retainCount += 1
        return c.handle
    }
    return CUresult.success
}

@_cdecl("cuDevicePrimaryCtxRelease")
public func cuDevicePrimaryCtxRelease(_ device: Int32) -> Int32 {
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    return driver.withState {
        guard let c = driver.primaryContexts[Int(device)], c.retainCount > 0 else { return CUresult.invalidContext }
        // The context stays usable for the rest of the process (the node frees everything when the session ends).
        c.retainCount -= 1
        return CUresult.success
    }
}

@_cdecl("cuDevicePrimaryCtxRelease_v2")
public func cuDevicePrimaryCtxRelease_v2(_ device: Int32) -> Int32 { cuDevicePrimaryCtxRelease(device) }

@_cdecl("cuDevicePrimaryCtxReset")
public func cuDevicePrimaryCtxReset(_ device: Int32) -> Int32 {
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    if let c = driver.withState({ driver.primaryContexts[Int(device)] }) {
        tessera_cls_context_destroyed(UnsafeMutableRawPointer(bitPattern: c.handle))
        c.retainCount = 0
    }
    return driver.resetDevice(Int(device))
}

@_cdecl("cuDevicePrimaryCtxReset_v2")
public func cuDevicePrimaryCtxReset_v2(_ device: Int32) -> Int32 { cuDevicePrimaryCtxReset(device) }

@_cdecl("cuDevicePrimaryCtxGetState")
public func cuDevicePrimaryCtxGetState(_ device: Int32, _ flags: UnsafeMutablePointer<UInt32>?, _ active: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let flags, let active else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    driver.withState {
        let c = driver.primaryContexts[Int(device)]
        flags.pointee = c?.flags ?? 0
        active.pointee = (c?.retainCount ?? 0) > 0 ? 1 : 0
    }
    return CUresult.success
}

@_cdecl("cuDevicePrimaryCtxSetFlags")
public func cuDevicePrimaryCtxSetFlags(_ device: Int32, _ flags: UInt32) -> Int32 {
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    driver.withState { driver.primaryContext(Int(device)).flags = flags }
    return CUresult.success
}

@_cdecl("cuDevicePrimaryCtxSetFlags_v2")
public func cuDevicePrimaryCtxSetFlags_v2(_ device: Int32, _ flags: UInt32) -> Int32 { cuDevicePrimaryCtxSetFlags(device, flags) }

extension Driver {
    /// Resets a device: the core frees its memory and modules; this face forgets the modules' records there.
    func resetDevice(_ device: Int) -> Int32 {
        let e = CUresult.from(core.resetDevice(device))
        guard e == 0 else { return e }
        withState {
            for (h, m) in modules where m.device == device { modules[h] = nil }
            for l in libraries.values {
                l.record.loaded[device] = nil
                l.record.loadErrors[device] = nil
                l.modules[device] = nil
            }
            for f in functions.values where f.reference.resolved.count > device { f.reference.resolved[device] = nil }
        }
        return e
    }
}

// MARK: The context stack

@_cdecl("cuCtxGetCurrent")
public func cuCtxGetCurrent(_ context: UnsafeMutablePointer<UInt>?) -> Int32 {
    guard let context else { return CUresult.invalidValue }
    guard Driver.shared.initialized else { return CUresult.notInitialized }
    context.pointee = ThreadState.current.contextStack.last ?? 0
    return CUresult.success
}

@_cdecl("cuCtxSetCurrent")
public func cuCtxSetCurrent(_ context: UInt) -> Int32 {
    let driver = Driver.shared
    guard driver.initialized else { return CUresult.notInitialized }
    let ts = ThreadState.current
    if context == 0 {
        _ = ts.contextStack.popLast()
    } else {
        guard driver.withState({ driver.contexts[context] }) != nil else { return CUresult.invalidContext }
        if ts.contextStack.isEmpty { ts.contextStack.append(context) } else { ts.contextStack[ts.contextStack.count - 1] = context }
    }
    driver.contextStackChanged()
    return CUresult.success
}

@_cdecl("cuCtxPushCurrent_v2")
public func cuCtxPushCurrent_v2(_ context: UInt) -> Int32 {
    let driver = Driver.shared
    guard driver.initialized else { return CUresult.notInitialized }
    guard context != 0, driver.withState({ driver.contexts[context] }) != nil else { return CUresult.invalidContext }
    ThreadState.current.contextStack.append(context)
    driver.contextStackChanged()
    return CUresult.success
}

@_cdecl("cuCtxPopCurrent_v2")
public func cuCtxPopCurrent_v2(_ context: UnsafeMutablePointer<UInt>?) -> Int32 {
    let driver = Driver.shared
    guard driver.initialized else { return CUresult.notInitialized }
    guard let top = ThreadState.current.contextStack.popLast() else { return CUresult.invalidContext }
    context?.pointee = top
    driver.contextStackChanged()
    return CUresult.success
}

@_cdecl("cuCtxCreate_v2")
public func cuCtxCreate_v2(_ context: UnsafeMutablePointer<UInt>?, _ flags: UInt32, _ device: Int32) -> Int32 {
    guard let context else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    let handle = driver.withState {
        let c = Driver.Context(device: Int(device), isPrimary: false, flags: flags)
        driver.contexts[c.handle] = c
        return c.handle
    }
    ThreadState.current.contextStack.append(handle)
    driver.contextStackChanged()
    context.pointee = handle
    return CUresult.success
}

@_cdecl("cuCtxCreate_v3")
public func cuCtxCreate_v3(_ context: UnsafeMutablePointer<UInt>?, _ parameters: UnsafeRawPointer?, _ count: Int32, _ flags: UInt32,
                           _ device: Int32) -> Int32 {
    guard count == 0 else { return CUresult.notSupported }  // execution affinity: not offered
    return cuCtxCreate_v2(context, flags, device)
}

@_cdecl("cuCtxCreate_v4")
public func cuCtxCreate_v4(_ context: UnsafeMutablePointer<UInt>?, _ parameters: UnsafeRawPointer?, _ flags: UInt32, _ device: Int32) -> Int32 {
    cuCtxCreate_v2(context, flags, device)
}

@_cdecl("cuCtxDestroy_v2")
public func cuCtxDestroy_v2(_ context: UInt) -> Int32 {
    let driver = Driver.shared
    guard driver.initialized else { return CUresult.notInitialized }
    guard let c = driver.withState({ driver.contexts[context] }), !c.isPrimary else { return CUresult.invalidContext }
    tessera_cls_context_destroyed(UnsafeMutableRawPointer(bitPattern: context))
    driver.withState { driver.contexts[context] = nil }
    ThreadState.current.contextStack.removeAll { $0 == context }
    driver.contextStackChanged()
    return CUresult.success
}

/// The context `handle` names (0: the current one).
private func context(_ handle: UInt) -> Result<Driver.Context, DriverFailure> {
    let driver = Driver.shared
    guard driver.initialized else { return .failure(DriverFailure(CUresult.notInitialized)) }
    if handle == 0 {
        guard let c = driver.currentContext() else { return .failure(DriverFailure(CUresult.invalidContext)) }
        return .success(c)
    }
    guard let c = driver.withState({ driver.contexts[handle] }) else { return .failure(DriverFailure(CUresult.invalidContext)) }
    return .success(c)
}

@_cdecl("cuCtxGetDevice")
public func cuCtxGetDevice(_ device: UnsafeMutablePointer<Int32>?) -> Int32 { cuCtxGetDevice_v2(device, 0) }

@_cdecl("cuCtxGetDevice_v2")
public func cuCtxGetDevice_v2(_ device: UnsafeMutablePointer<Int32>?, _ handle: UInt) -> Int32 {
    guard let device else { return CUresult.invalidValue }
    switch context(handle) {
    case .failure(let f): return f.code
    case .success(let c):
        device.pointee = Int32(c.device)
        return CUresult.success
    }
}

@_cdecl("cuCtxSynchronize")
public func cuCtxSynchronize() -> Int32 { cuCtxSynchronize_v2(0) }

@_cdecl("cuCtxSynchronize_v2")
public func cuCtxSynchronize_v2(_ handle: UInt) -> Int32 {
    switch context(handle) {
    case .failure(let f): return f.code
    case .success(let c):
        let core = Driver.shared.core
        let e = core.synchronizeDevice(c.device)
        // A context poisoned earlier stays poisoned: its sticky error is every synchronization's result.
        return CUresult.from(e != 0 ? e : core.withDevice(c.device) { _, _ in 0 })
    }
}

@_cdecl("cuCtxGetFlags")
public func cuCtxGetFlags(_ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let flags else { return CUresult.invalidValue }
    switch context(0) {
    case .failure(let f): return f.code
    case .success(let c):
        flags.pointee = c.flags
        return CUresult.success
    }
}

@_cdecl("cuCtxSetFlags")
public func cuCtxSetFlags(_ flags: UInt32) -> Int32 {
    switch context(0) {
    case .failure(let f): return f.code
    case .success(let c):
        c.flags = flags
        return CUresult.success
    }
}

@_cdecl("cuCtxGetId")
public func cuCtxGetId(_ handle: UInt, _ id: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let id else { return CUresult.invalidValue }
    switch context(handle) {
    case .failure(let f): return f.code
    case .success(let c):
        id.pointee = c.id
        return CUresult.success
    }
}

@_cdecl("cuCtxGetApiVersion")
public func cuCtxGetApiVersion(_ handle: UInt, _ version: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let version else { return CUresult.invalidValue }
    if case .failure(let f) = context(handle) { return f.code }
    version.pointee = 3020
    return CUresult.success
}

@_cdecl("cuCtxGetLimit")
public func cuCtxGetLimit(_ value: UnsafeMutablePointer<Int>?, _ limit: Int32) -> Int32 {
    guard let value else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { device in
        let (e, v) = Driver.shared.core.limit(limit, device: device)
        if e == 0 { value.pointee = v }
        return CUresult.from(e)
    }
}

@_cdecl("cuCtxSetLimit")
public func cuCtxSetLimit(_ limit: Int32, _ value: Int) -> Int32 {
    Driver.shared.onCurrentDevice { device in CUresult.from(Driver.shared.core.setLimit(limit, value: value, device: device)) }
}

@_cdecl("cuCtxGetCacheConfig")
public func cuCtxGetCacheConfig(_ config: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let config else { return CUresult.invalidValue }
    if case .failure(let f) = context(0) { return f.code }
    config.pointee = 0
    return CUresult.success
}

@_cdecl("cuCtxSetCacheConfig")
public func cuCtxSetCacheConfig(_ config: Int32) -> Int32 { context(0).code }

@_cdecl("cuCtxGetSharedMemConfig")
public func cuCtxGetSharedMemConfig(_ config: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let config else { return CUresult.invalidValue }
    config.pointee = 1  // four-byte banks
    return context(0).code
}

@_cdecl("cuCtxSetSharedMemConfig")
public func cuCtxSetSharedMemConfig(_ config: Int32) -> Int32 { context(0).code }

@_cdecl("cuCtxGetStreamPriorityRange")
public func cuCtxGetStreamPriorityRange(_ least: UnsafeMutablePointer<Int32>?, _ greatest: UnsafeMutablePointer<Int32>?) -> Int32 {
    if case .failure(let f) = context(0) { return f.code }
    least?.pointee = 0
    greatest?.pointee = -5
    return CUresult.success
}

@_cdecl("cuCtxResetPersistingL2Cache")
public func cuCtxResetPersistingL2Cache() -> Int32 { context(0).code }
