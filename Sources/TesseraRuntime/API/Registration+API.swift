import CCudaABI
import TesseraWire
import TesseraClientCore

// The calls nvcc's generated host code makes at program load and at every `<<<…>>>` launch.

@_cdecl("__cudaRegisterFatBinary")
public func __cudaRegisterFatBinary(_ wrapper: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let handle = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
    handle.storeBytes(of: wrapper, as: UnsafeMutableRawPointer?.self)
    let rt = Runtime.shared
    rt.lock.withLock {
        if let wrapper, let image = FatbinRecord.image(fromWrapper: wrapper) {
            rt.fatbins[handle] = FatbinRecord(image: image)
        } else {
            Log.once("fatbin", "a fatbinary in this program is not in a format Tessera reads; its kernels will not launch")
            rt.fatbins[handle] = FatbinRecord(image: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
    return handle
}

@_cdecl("__cudaRegisterFatBinaryEnd")
public func __cudaRegisterFatBinaryEnd(_ handle: UnsafeMutableRawPointer?) {}

@_cdecl("__cudaUnregisterFatBinary")
public func __cudaUnregisterFatBinary(_ handle: UnsafeMutableRawPointer?) {
    // Runs at exit. The node frees the session's modules when the connection closes; nothing to do here.
}

@_cdecl("__cudaRegisterFunction")
public func __cudaRegisterFunction(
    _ handle: UnsafeMutableRawPointer?, _ hostFunction: UnsafePointer<CChar>?, _ deviceFunction: UnsafeMutablePointer<CChar>?,
    _ deviceName: UnsafePointer<CChar>?, _ threadLimit: Int32, _ tid: UnsafeMutableRawPointer?, _ bid: UnsafeMutableRawPointer?,
    _ blockDim: UnsafeMutableRawPointer?, _ gridDim: UnsafeMutableRawPointer?, _ warpSize: UnsafeMutablePointer<Int32>?
) {
    guard let handle, let hostFunction, let deviceName else { return }
    let rt = Runtime.shared
    rt.lock.withLock {
        guard let fatbin = rt.fatbins[handle] else { return }
        rt.functions[UnsafeRawPointer(hostFunction)] = KernelReference(fatbin: fatbin, name: String(cString: deviceName))
    }
}

@_cdecl("__cudaRegisterVar")
public func __cudaRegisterVar(
    _ handle: UnsafeMutableRawPointer?, _ hostVariable: UnsafeMutablePointer<CChar>?, _ deviceAddress: UnsafeMutablePointer<CChar>?,
    _ deviceName: UnsafePointer<CChar>?, _ external: Int32, _ size: Int, _ constant: Int32, _ global: Int32
) {
    guard let handle, let hostVariable, let deviceName else { return }
    let rt = Runtime.shared
    rt.lock.withLock {
        guard let fatbin = rt.fatbins[handle] else { return }
        rt.variables[UnsafeRawPointer(hostVariable)] = VariableReference(fatbin: fatbin, name: String(cString: deviceName), size: size)
    }
}

@_cdecl("__cudaRegisterManagedVar")
public func __cudaRegisterManagedVar(
    _ handle: UnsafeMutableRawPointer?, _ hostVariablePointer: UnsafeMutableRawPointer?, _ deviceAddress: UnsafeMutablePointer<CChar>?,
    _ deviceName: UnsafePointer<CChar>?, _ external: Int32, _ size: Int, _ constant: Int32, _ global: Int32
) {
    Log.once("managed", "__managed__ variables are not supported by Tessera; accessing them will fail")
}

@_cdecl("__cudaPushCallConfiguration")
public func __cudaPushCallConfiguration(_ grid: tessera_dim3, _ block: tessera_dim3, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?) -> UInt32 {
    ThreadState.current.configurations.append(
        .init(grid: Dim3(grid), block: Dim3(block), sharedMemory: sharedMemory, stream: UInt(bitPattern: stream)))
    return 0
}

@_cdecl("__cudaPopCallConfiguration")
public func __cudaPopCallConfiguration(
    _ grid: UnsafeMutablePointer<tessera_dim3>?, _ block: UnsafeMutablePointer<tessera_dim3>?,
    _ sharedMemory: UnsafeMutablePointer<Int>?, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    let ts = ThreadState.current
    guard let c = ts.configurations.popLast() else { return CUDAError.missingConfiguration }
    grid?.pointee = tessera_dim3(c.grid)
    block?.pointee = tessera_dim3(c.block)
    sharedMemory?.pointee = c.sharedMemory
    stream?.storeBytes(of: c.stream, as: UInt.self)
    return 0
}

@_cdecl("__cudaGetKernel")
public func __cudaGetKernel(_ kernel: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ function: UnsafeRawPointer?) -> Int32 {
    let rt = Runtime.shared
    let ref = rt.lock.withLock { function.flatMap { rt.functions[$0] } }
    guard let ref else { return record(CUDAError.invalidDeviceFunction) }
    kernel?.pointee = Unmanaged.passUnretained(ref).toOpaque()
    return 0
}

@_cdecl("__cudaLaunchKernel")
public func __cudaLaunchKernel(
    _ kernel: UnsafeMutableRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    guard let kernel else { return record(CUDAError.invalidDeviceFunction) }
    let ref = Unmanaged<KernelReference>.fromOpaque(kernel).takeUnretainedValue()
    return record(Runtime.shared.launch(ref, grid: Dim3(grid), block: Dim3(block), parameters: .pointers(args), sharedMemory: sharedMemory, stream: UInt(bitPattern: stream)))
}

@_cdecl("__cudaLaunchKernel_ptsz")
public func __cudaLaunchKernel_ptsz(
    _ kernel: UnsafeMutableRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    __cudaLaunchKernel(kernel, grid, block, args, sharedMemory, stream)
}

@_cdecl("cudaLaunchKernel")
public func cudaLaunchKernel(
    _ function: UnsafeRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    let rt = Runtime.shared
    guard let ref = rt.lock.withLock({ function.flatMap { rt.functions[$0] } }) else { return record(CUDAError.invalidDeviceFunction) }
    return record(rt.launch(ref, grid: Dim3(grid), block: Dim3(block), parameters: .pointers(args), sharedMemory: sharedMemory, stream: UInt(bitPattern: stream)))
}

@_cdecl("cudaLaunchKernel_ptsz")
public func cudaLaunchKernel_ptsz(
    _ function: UnsafeRawPointer?, _ grid: tessera_dim3, _ block: tessera_dim3,
    _ args: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ sharedMemory: Int, _ stream: UnsafeMutableRawPointer?
) -> Int32 {
    cudaLaunchKernel(function, grid, block, args, sharedMemory, stream)
}

extension Dim3 {
    init(_ d: tessera_dim3) { self.init(x: d.x, y: d.y, z: d.z) }
}

extension tessera_dim3 {
    init(_ d: Dim3) { self.init(x: d.x, y: d.y, z: d.z) }
}
