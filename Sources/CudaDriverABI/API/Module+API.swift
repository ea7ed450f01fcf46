#if canImport(Glibc)
import Glibc
#endif
import TesseraClientCore
import TesseraWire

extension Driver {
    /// Loads an image as a module of the current context's device: the node parses it once and answers with
    /// every kernel's parameter layout, which launches then use without asking again.
    func loadModule(_ image: UnsafeRawPointer?, into module: UnsafeMutablePointer<UInt>?) -> Int32 {
        guard let module else { return CUresult.invalidValue }
        guard let image else { return CUresult.invalidValue }
        let device: Int
        switch currentDevice() {
        case .failure(let f): return f.code
        case .success(let d): device = d
        }
        let record: FatbinRecord
        switch Image.copy(image) {
        case .failure(let f): return f.code
        case .success(let (r, _)): record = r
        }
        return withState {
            switch core.module(record, device: device) {
            case .failure(let f):
                record.image.deallocate()
                return CUresult.from(f.code)
            case .success:
                let m = Module(record: record, device: device, library: nil)
                modules[m.handle] = m
                module.pointee = m.handle
                return CUresult.success
            }
        }
    }

    /// The module a handle names.
    func module(_ handle: UInt) -> Module? { withState { modules[handle] } }

    /// The function (or kernel) a handle names.
    func function(_ handle: UInt) -> Function? { withState { functions[handle] } }

    /// The loaded form of `function`'s image on the device it runs on (a kernel: the current context's).
    func resolved(_ function: Function) -> Result<(device: Int, kernel: ResolvedKernel), DriverFailure> {
        let device: Int
        if let d = function.device {
            device = d
        } else {
            switch currentDevice() {
            case .failure(let f): return .failure(f)
            case .success(let d): device = d
            }
        }
        return withState { resolve(function, device: device).map { (device, $0) } }
    }
}

@_cdecl("cuModuleLoadData")
public func cuModuleLoadData(_ module: UnsafeMutablePointer<UInt>?, _ image: UnsafeRawPointer?) -> Int32 {
    Driver.shared.loadModule(image, into: module)
}

@_cdecl("cuModuleLoadDataEx")
public func cuModuleLoadDataEx(_ module: UnsafeMutablePointer<UInt>?, _ image: UnsafeRawPointer?, _ count: UInt32,
                               _ options: UnsafeMutablePointer<Int32>?, _ values: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    // JIT options tune a compiler the simulated GPU does not have; they are accepted and have no effect.
    Driver.shared.loadModule(image, into: module)
}

@_cdecl("cuModuleLoadFatBinary")
public func cuModuleLoadFatBinary(_ module: UnsafeMutablePointer<UInt>?, _ image: UnsafeRawPointer?) -> Int32 {
    Driver.shared.loadModule(image, into: module)
}

@_cdecl("cuModuleLoad")
public func cuModuleLoad(_ module: UnsafeMutablePointer<UInt>?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guard let path else { return CUresult.invalidValue }
    switch Image.read(path: path) {
    case .failure(let f): return f.code
    case .success(let bytes): return bytes.withUnsafeBytes { Driver.shared.loadModule($0.baseAddress, into: module) }
    }
}

@_cdecl("cuModuleUnload")
public func cuModuleUnload(_ handle: UInt) -> Int32 {
    let driver = Driver.shared
    return driver.withState {
        guard let m = driver.modules.removeValue(forKey: handle), m.library == nil else { return CUresult.invalidHandle }
        for f in m.functions.values { driver.functions[f.handle] = nil }
        // The node keeps the module's code until the session ends; the program can no longer reach it.
        return CUresult.success
    }
}

@_cdecl("cuModuleGetFunction")
public func cuModuleGetFunction(_ function: UnsafeMutablePointer<UInt>?, _ handle: UInt, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let function, let name else { return CUresult.invalidValue }
    let driver = Driver.shared
    let kernel = String(cString: name)
    return driver.withState {
        guard let m = driver.modules[handle] else { return CUresult.invalidHandle }
        if let f = m.functions[kernel] {
            function.pointee = f.handle
            return CUresult.success
        }
        guard case .success(let loaded) = driver.core.module(m.record, device: m.device) else { return CUresult.invalidHandle }
        guard loaded.kernels[kernel] != nil else { return CUresult.notFound }
        let f = Driver.Function(reference: KernelReference(fatbin: m.record, name: kernel), device: m.device, module: m, library: m.library)
        m.functions[kernel] = f
        driver.functions[f.handle] = f
        function.pointee = f.handle
        return CUresult.success
    }
}

private func global(_ record: FatbinRecord, device: Int, name: UnsafePointer<CChar>?, _ address: UnsafeMutablePointer<UInt64>?,
                    _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let name else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.withState {
        switch driver.core.module(record, device: device) {
        case .failure(let f): return CUresult.from(f.code)
        case .success(let loaded):
            guard let v = loaded.variables[String(cString: name)] else { return CUresult.notFound }
            address?.pointee = v.address
            size?.pointee = v.size
            return CUresult.success
        }
    }
}

@_cdecl("cuModuleGetGlobal_v2")
public func cuModuleGetGlobal_v2(_ address: UnsafeMutablePointer<UInt64>?, _ size: UnsafeMutablePointer<Int>?, _ handle: UInt,
                                 _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let m = Driver.shared.module(handle) else { return CUresult.invalidHandle }
    return global(m.record, device: m.device, name: name, address, size)
}

@_cdecl("cuModuleGetLoadingMode")
public func cuModuleGetLoadingMode(_ mode: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let mode else { return CUresult.invalidValue }
    // CU_MODULE_EAGER_LOADING (1) when asked for, else lazy (2): Tessera loads on first use either way.
    let eager = getenv("CUDA_MODULE_LOADING").map { String(cString: $0).uppercased() == "EAGER" } ?? false
    mode.pointee = eager ? 1 : 2
    return CUresult.success
}

@_cdecl("cuModuleGetFunctionCount")
public func cuModuleGetFunctionCount(_ count: UnsafeMutablePointer<UInt32>?, _ handle: UInt) -> Int32 {
    guard let count else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.withState {
        guard let m = driver.modules[handle] else { return CUresult.invalidHandle }
        guard case .success(let loaded) = driver.core.module(m.record, device: m.device) else { return CUresult.invalidHandle }
        count.pointee = UInt32(loaded.kernels.count)
        return CUresult.success
    }
}

// MARK: Libraries (context-independent code; NVIDIA's runtime loads every program's kernels this way)

@_cdecl("cuLibraryLoadData")
public func cuLibraryLoadData(_ library: UnsafeMutablePointer<UInt>?, _ code: UnsafeRawPointer?,
                              _ jitOptions: UnsafeMutableRawPointer?, _ jitValues: UnsafeMutableRawPointer?, _ jitCount: UInt32,
                              _ libraryOptions: UnsafeMutableRawPointer?, _ libraryValues: UnsafeMutableRawPointer?, _ libraryCount: UInt32) -> Int32 {
    guard let library, let code else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard driver.initialized else { return CUresult.notInitialized }
    let record: FatbinRecord
    switch Image.copy(code) {
    case .failure(let f): return f.code
    case .success(let (r, _)): record = r
    }
    // With a context current, load now so a bad image fails here; else on first use on each device.
    if case .success(let device) = driver.currentDevice() {
        let e = driver.withState { driver.core.module(record, device: device) }
        if case .failure(let f) = e {
            record.image.deallocate()
            return CUresult.from(f.code)
        }
    }
    library.pointee = driver.withState {
        let l = Driver.Library(record: record)
        driver.libraries[l.handle] = l
        return l.handle
    }
    return CUresult.success
}

@_cdecl("cuLibraryLoadFromFile")
public func cuLibraryLoadFromFile(_ library: UnsafeMutablePointer<UInt>?, _ path: UnsafePointer<CChar>?,
                                  _ jitOptions: UnsafeMutableRawPointer?, _ jitValues: UnsafeMutableRawPointer?, _ jitCount: UInt32,
                                  _ libraryOptions: UnsafeMutableRawPointer?, _ libraryValues: UnsafeMutableRawPointer?, _ libraryCount: UInt32) -> Int32 {
    guard let path else { return CUresult.invalidValue }
    switch Image.read(path: path) {
    case .failure(let f): return f.code
    case .success(let bytes):
        return bytes.withUnsafeBytes { cuLibraryLoadData(library, $0.baseAddress, nil, nil, 0, nil, nil, 0) }
    }
}

@_cdecl("cuLibraryUnload")
public func cuLibraryUnload(_ handle: UInt) -> Int32 {
    let driver = Driver.shared
    return driver.withState {
        guard let l = driver.libraries.removeValue(forKey: handle) else { return CUresult.invalidHandle }
        for k in l.kernels.values {
            driver.functions[k.handle] = nil
            for f in k.perDevice.values { driver.functions[f.handle] = nil }
        }
        for m in l.modules.values { driver.modules[m.handle] = nil }
        return CUresult.success
    }
}

@_cdecl("cuLibraryGetKernel")
public func cuLibraryGetKernel(_ kernel: UnsafeMutablePointer<UInt>?, _ handle: UInt, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let kernel, let name else { return CUresult.invalidValue }
    let driver = Driver.shared
    let kernelName = String(cString: name)
    let current = try? driver.currentDevice().get()
    return driver.withState {
        guard let l = driver.libraries[handle] else { return CUresult.invalidHandle }
        if let k = l.kernels[kernelName] {
            kernel.pointee = k.handle
            return CUresult.success
        }
        // Where the image is loaded already, an unknown name is an error now.
        if let current, case .success(let loaded) = driver.core.module(l.record, device: current), loaded.kernels[kernelName] == nil {
            return CUresult.notFound
        }
        let k = Driver.Function(reference: KernelReference(fatbin: l.record, name: kernelName), device: nil, module: nil, library: l)
        l.kernels[kernelName] = k
        driver.functions[k.handle] = k
        kernel.pointee = k.handle
        return CUresult.success
    }
}

@_cdecl("cuLibraryGetKernelCount")
public func cuLibraryGetKernelCount(_ count: UnsafeMutablePointer<UInt32>?, _ handle: UInt) -> Int32 {
    guard let count else { return CUresult.invalidValue }
    let driver = Driver.shared
    let current = driver.currentDevice()
    return driver.withState {
        guard let l = driver.libraries[handle] else { return CUresult.invalidHandle }
        guard case .success(let device) = current else { return current.code }
        switch driver.core.module(l.record, device: device) {
        case .failure(let f): return CUresult.from(f.code)
        case .success(let loaded):
            count.pointee = UInt32(loaded.kernels.count)
            return CUresult.success
        }
    }
}

@_cdecl("cuLibraryGetModule")
public func cuLibraryGetModule(_ module: UnsafeMutablePointer<UInt>?, _ handle: UInt) -> Int32 {
    guard let module else { return CUresult.invalidValue }
    let driver = Driver.shared
    let current = driver.currentDevice()
    return driver.withState {
        guard let l = driver.libraries[handle] else { return CUresult.invalidHandle }
        guard case .success(let device) = current else { return current.code }
        if let m = l.modules[device] {
            module.pointee = m.handle
            return CUresult.success
        }
        if case .failure(let f) = driver.core.module(l.record, device: device) { return CUresult.from(f.code) }
        let m = Driver.Module(record: l.record, device: device, library: l)
        l.modules[device] = m
        driver.modules[m.handle] = m
        module.pointee = m.handle
        return CUresult.success
    }
}

@_cdecl("cuLibraryGetGlobal")
public func cuLibraryGetGlobal(_ address: UnsafeMutablePointer<UInt64>?, _ size: UnsafeMutablePointer<Int>?, _ handle: UInt,
                               _ name: UnsafePointer<CChar>?) -> Int32 {
    let driver = Driver.shared
    guard let l = driver.withState({ driver.libraries[handle] }) else { return CUresult.invalidHandle }
    switch driver.currentDevice() {
    case .failure(let f): return f.code
    case .success(let device): return global(l.record, device: device, name: name, address, size)
    }
}

@_cdecl("cuKernelGetFunction")
public func cuKernelGetFunction(_ function: UnsafeMutablePointer<UInt>?, _ handle: UInt) -> Int32 {
    guard let function else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let k = driver.function(handle), k.device == nil else { return CUresult.invalidHandle }
    let device: Int
    switch driver.currentDevice() {
    case .failure(let f): return f.code
    case .success(let d): device = d
    }
    return driver.withState {
        if let f = k.perDevice[device] {
            function.pointee = f.handle
            return CUresult.success
        }
        if case .failure(let f) = driver.resolve(k, device: device) { return f.code }
        let f = Driver.Function(reference: k.reference, device: device, module: k.library?.modules[device], library: k.library)
        f.maxDynamicSharedBytes = k.maxDynamicSharedBytes
        k.perDevice[device] = f
        driver.functions[f.handle] = f
        function.pointee = f.handle
        return CUresult.success
    }
}

@_cdecl("cuKernelGetLibrary")
public func cuKernelGetLibrary(_ library: UnsafeMutablePointer<UInt>?, _ handle: UInt) -> Int32 {
    guard let library else { return CUresult.invalidValue }
    guard let k = Driver.shared.function(handle), let l = k.library else { return CUresult.invalidHandle }
    library.pointee = l.handle
    return CUresult.success
}

nonisolated(unsafe) private var kernelNames: [UInt: UnsafePointer<CChar>] = [:]

private func name(of handle: UInt, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guard let out else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    out.pointee = driver.withState {
        if let p = kernelNames[handle] { return p }
        let p = UnsafePointer(strdup(f.reference.name)!)
        kernelNames[handle] = p
        return p
    }
    return CUresult.success
}

@_cdecl("cuKernelGetName")
public func cuKernelGetName(_ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ handle: UInt) -> Int32 { name(of: handle, out) }

@_cdecl("cuFuncGetName")
public func cuFuncGetName(_ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ handle: UInt) -> Int32 { name(of: handle, out) }

private func parameterInfo(_ handle: UInt, _ index: Int, _ offset: UnsafeMutablePointer<Int>?, _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    switch driver.resolved(f) {
    case .failure(let e): return e.code
    case .success(let (_, k)):
        guard index >= 0, index < k.info.parameters.count else { return CUresult.invalidValue }
        offset?.pointee = k.info.parameters[index].offset
        size?.pointee = k.info.parameters[index].size
        return CUresult.success
    }
}

@_cdecl("cuKernelGetParamInfo")
public func cuKernelGetParamInfo(_ handle: UInt, _ index: Int, _ offset: UnsafeMutablePointer<Int>?, _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    parameterInfo(handle, index, offset, size)
}

@_cdecl("cuFuncGetParamInfo")
public func cuFuncGetParamInfo(_ handle: UInt, _ index: Int, _ offset: UnsafeMutablePointer<Int>?, _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    parameterInfo(handle, index, offset, size)
}

@_cdecl("cuKernelGetParamCount")
public func cuKernelGetParamCount(_ handle: UInt, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let count else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    switch driver.resolved(f) {
    case .failure(let e): return e.code
    case .success(let (_, k)):
        count.pointee = k.info.parameters.count
        return CUresult.success
    }
}

@_cdecl("cuFuncGetParamCount")
public func cuFuncGetParamCount(_ handle: UInt, _ count: UnsafeMutablePointer<Int>?) -> Int32 { cuKernelGetParamCount(handle, count) }

// MARK: Function and kernel attributes

/// `CUfunction_attribute` of a kernel on the device it runs on.
private func attribute(_ value: UnsafeMutablePointer<Int32>?, _ attribute: Int32, _ f: Driver.Function, device: Int) -> Int32 {
    guard let value else { return CUresult.invalidValue }
    let driver = Driver.shared
    let resolved = driver.withState { driver.resolve(f, device: device) }
    let k: ResolvedKernel
    switch resolved {
    case .failure(let e): return e.code
    case .success(let r): k = r
    }
    let optin = driver.withState { driver.core.devices[device].sharedMemoryPerBlockOptin }
    let v: Int
    switch attribute {
    case 0: v = k.info.maxThreadsPerBlock
    case 1: v = k.info.staticSharedBytes
    case 2: v = k.info.constantBytes
    case 3: v = k.info.localBytesPerThread
    case 4: v = k.info.registersPerThread
    case 5: v = k.info.ptxVersion
    case 6: v = k.info.binaryVersion
    case 7: v = 0  // cache mode ca
    case 8: v = f.maxDynamicSharedBytes ?? max(0, optin - k.info.staticSharedBytes)
    case 9: v = -1  // preferred carveout: default
    case 10, 11, 12, 13, 14, 15: v = 0  // clusters
    default: return CUresult.invalidValue
    }
    value.pointee = Int32(truncatingIfNeeded: v)
    return CUresult.success
}

@_cdecl("cuFuncGetAttribute")
public func cuFuncGetAttribute(_ value: UnsafeMutablePointer<Int32>?, _ which: Int32, _ handle: UInt) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    let device: Int
    if let d = f.device { device = d } else {
        switch driver.currentDevice() {
        case .failure(let e): return e.code
        case .success(let d): device = d
        }
    }
    return attribute(value, which, f, device: device)
}

@_cdecl("cuKernelGetAttribute")
public func cuKernelGetAttribute(_ value: UnsafeMutablePointer<Int32>?, _ which: Int32, _ handle: UInt, _ device: Int32) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    if case .failure(let e) = driver.device(device) { return e.code }
    return attribute(value, which, f, device: Int(device))
}

private func setAttribute(_ which: Int32, _ value: Int32, _ f: Driver.Function, device: Int) -> Int32 {
    let driver = Driver.shared
    switch which {
    case 8:
        switch driver.withState({ driver.resolve(f, device: device) }) {
        case .failure(let e): return e.code
        case .success(let k):
            let optin = driver.withState { driver.core.devices[device].sharedMemoryPerBlockOptin }
            guard value >= 0, Int(value) + k.info.staticSharedBytes <= optin else { return CUresult.invalidValue }
            driver.withState { f.maxDynamicSharedBytes = Int(value) }
            return CUresult.success
        }
    case 9, 10, 11, 12, 13, 14, 15: return CUresult.success  // carveout and cluster hints
    default: return CUresult.invalidValue
    }
}

@_cdecl("cuFuncSetAttribute")
public func cuFuncSetAttribute(_ handle: UInt, _ which: Int32, _ value: Int32) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    switch f.device.map({ Result<Int, DriverFailure>.success($0) }) ?? driver.currentDevice() {
    case .failure(let e): return e.code
    case .success(let d): return setAttribute(which, value, f, device: d)
    }
}

@_cdecl("cuKernelSetAttribute")
public func cuKernelSetAttribute(_ which: Int32, _ value: Int32, _ handle: UInt, _ device: Int32) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    if case .failure(let e) = driver.device(device) { return e.code }
    return setAttribute(which, value, f, device: Int(device))
}

@_cdecl("cuFuncSetCacheConfig")
public func cuFuncSetCacheConfig(_ handle: UInt, _ config: Int32) -> Int32 {
    Driver.shared.function(handle) != nil ? CUresult.success : CUresult.invalidHandle
}

@_cdecl("cuKernelSetCacheConfig")
public func cuKernelSetCacheConfig(_ handle: UInt, _ config: Int32, _ device: Int32) -> Int32 {
    Driver.shared.function(handle) != nil ? CUresult.success : CUresult.invalidHandle
}

@_cdecl("cuFuncSetSharedMemConfig")
public func cuFuncSetSharedMemConfig(_ handle: UInt, _ config: Int32) -> Int32 {
    Driver.shared.function(handle) != nil ? CUresult.success : CUresult.invalidHandle
}

@_cdecl("cuFuncGetModule")
public func cuFuncGetModule(_ module: UnsafeMutablePointer<UInt>?, _ handle: UInt) -> Int32 {
    guard let module else { return CUresult.invalidValue }
    guard let f = Driver.shared.function(handle), let m = f.module else { return CUresult.invalidHandle }
    module.pointee = m.handle
    return CUresult.success
}

@_cdecl("cuFuncIsLoaded")
public func cuFuncIsLoaded(_ state: UnsafeMutablePointer<Int32>?, _ handle: UInt) -> Int32 {
    guard let state else { return CUresult.invalidValue }
    guard Driver.shared.function(handle) != nil else { return CUresult.invalidHandle }
    state.pointee = 1  // CU_FUNCTION_LOADED
    return CUresult.success
}

@_cdecl("cuFuncLoad")
public func cuFuncLoad(_ handle: UInt) -> Int32 {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    return driver.resolved(f).map { _ in () }.code
}

// MARK: Occupancy

private func activeBlocks(_ handle: UInt, _ blockSize: Int32, _ dynamicShared: Int) -> Result<Int, DriverFailure> {
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return .failure(DriverFailure(CUresult.invalidHandle)) }
    guard blockSize > 0 else { return .failure(DriverFailure(CUresult.invalidValue)) }
    return driver.resolved(f).map { device, k in
        driver.withState { driver.core.occupancy(k.info, device: device, blockSize: Int(blockSize), dynamicSharedMemory: dynamicShared) }
    }
}

@_cdecl("cuOccupancyMaxActiveBlocksPerMultiprocessor")
public func cuOccupancyMaxActiveBlocksPerMultiprocessor(_ blocks: UnsafeMutablePointer<Int32>?, _ handle: UInt, _ blockSize: Int32,
                                                        _ dynamicShared: Int) -> Int32 {
    guard let blocks else { return CUresult.invalidValue }
    switch activeBlocks(handle, blockSize, dynamicShared) {
    case .failure(let f): return f.code
    case .success(let n):
        blocks.pointee = Int32(n)
        return CUresult.success
    }
}

@_cdecl("cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags")
public func cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(_ blocks: UnsafeMutablePointer<Int32>?, _ handle: UInt, _ blockSize: Int32,
                                                                 _ dynamicShared: Int, _ flags: UInt32) -> Int32 {
    cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, handle, blockSize, dynamicShared)
}

@_cdecl("cuOccupancyMaxPotentialBlockSizeWithFlags")
public func cuOccupancyMaxPotentialBlockSizeWithFlags(
    _ minGrid: UnsafeMutablePointer<Int32>?, _ blockSizeOut: UnsafeMutablePointer<Int32>?, _ handle: UInt,
    _ sharedForBlock: (@convention(c) (Int32) -> Int)?, _ dynamicShared: Int, _ limit: Int32, _ flags: UInt32
) -> Int32 {
    guard let minGrid, let blockSizeOut else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    let device: Int, k: ResolvedKernel
    switch driver.resolved(f) {
    case .failure(let e): return e.code
    case .success(let r): (device, k) = r
    }
    let (warp, sms, maxThreads) = driver.withState {
        let d = driver.core.devices[device]
        return (d.warpSize, d.multiprocessorCount, min(d.maxThreadsPerBlock, k.info.maxThreadsPerBlock))
    }
    let ceiling = limit > 0 ? min(Int(limit), maxThreads) : maxThreads
    var best = (threads: 0, blocks: 0)
    var size = ceiling / warp * warp
    while size > 0 {
        let shared = sharedForBlock.map { $0(Int32(size)) } ?? dynamicShared
        let blocks = driver.withState { driver.core.occupancy(k.info, device: device, blockSize: size, dynamicSharedMemory: shared) }
        if blocks * size > best.threads * best.blocks { best = (size, blocks) }
        size -= warp
    }
    blockSizeOut.pointee = Int32(best.threads)
    minGrid.pointee = Int32(best.blocks * sms)
    return CUresult.success
}

@_cdecl("cuOccupancyMaxPotentialBlockSize")
public func cuOccupancyMaxPotentialBlockSize(
    _ minGrid: UnsafeMutablePointer<Int32>?, _ blockSize: UnsafeMutablePointer<Int32>?, _ handle: UInt,
    _ sharedForBlock: (@convention(c) (Int32) -> Int)?, _ dynamicShared: Int, _ limit: Int32
) -> Int32 {
    cuOccupancyMaxPotentialBlockSizeWithFlags(minGrid, blockSize, handle, sharedForBlock, dynamicShared, limit, 0)
}

@_cdecl("cuOccupancyAvailableDynamicSMemPerBlock")
public func cuOccupancyAvailableDynamicSMemPerBlock(_ size: UnsafeMutablePointer<Int>?, _ handle: UInt, _ blocks: Int32, _ blockSize: Int32) -> Int32 {
    guard let size, blocks > 0 else { return CUresult.invalidValue }
    let driver = Driver.shared
    guard let f = driver.function(handle) else { return CUresult.invalidHandle }
    switch driver.resolved(f) {
    case .failure(let e): return e.code
    case .success(let (device, k)):
        let d = driver.withState { driver.core.devices[device] }
        let perBlock = d.sharedMemoryPerMultiprocessor / Int(blocks) - 1024
        size.pointee = max(0, min(perBlock, d.sharedMemoryPerBlockOptin) - k.info.staticSharedBytes)
        return CUresult.success
    }
}
