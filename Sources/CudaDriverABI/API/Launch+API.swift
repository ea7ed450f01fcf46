import TesseraClientCore

extension Driver {
    /// Queues a launch of a function or kernel. Parameters come as one pointer per parameter or as the packed
    /// buffer of `extra` (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE), and are laid out by the layout learned
    /// when the image was loaded.
    func launch(_ handle: UInt, grid: Dim3, block: Dim3, sharedMemory: UInt32, stream: UInt,
                parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                cooperative: Bool = false) -> Int32 {
        guard let f = function(handle) else { return CUresult.invalidHandle }
        if case .failure(let e) = currentDevice() { return e.code }
        let source: LaunchParameters
        if let parameters {
            source = .pointers(parameters)
        } else if let extra {
            var buffer: UnsafeMutableRawPointer?
            var size: Int?
            var i = 0
            while let key = extra[i], i < 64 {
                switch UInt(bitPattern: key) {
                case 1: buffer = extra[i + 1]
                case 2: size = extra[i + 1]?.load(as: Int.self)
                default: return CUresult.invalidValue
                }
                i += 2
            }
            guard let buffer, let size else { return CUresult.invalidValue }
            source = .packed(UnsafeRawBufferPointer(start: buffer, count: size))
        } else {
            source = .pointers(nil)
        }
        if let limit = f.maxDynamicSharedBytes, Int(sharedMemory) > limit { return CUresult.invalidValue }
        return CUresult.from(core.launch(f.reference, grid: grid, block: block, parameters: source, sharedMemory: Int(sharedMemory),
                                         stream: stream, device: f.device, cooperative: cooperative))
    }
}

@_cdecl("cuLaunchKernel")
public func cuLaunchKernel(_ function: UInt, _ gridX: UInt32, _ gridY: UInt32, _ gridZ: UInt32, _ blockX: UInt32, _ blockY: UInt32,
                           _ blockZ: UInt32, _ sharedMemory: UInt32, _ stream: UInt,
                           _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                           _ extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    Driver.shared.launch(function, grid: Dim3(x: gridX, y: gridY, z: gridZ), block: Dim3(x: blockX, y: blockY, z: blockZ),
                         sharedMemory: sharedMemory, stream: stream, parameters: parameters, extra: extra)
}

@_cdecl("cuLaunchKernel_ptsz")
public func cuLaunchKernel_ptsz(_ function: UInt, _ gridX: UInt32, _ gridY: UInt32, _ gridZ: UInt32, _ blockX: UInt32, _ blockY: UInt32,
                                _ blockZ: UInt32, _ sharedMemory: UInt32, _ stream: UInt,
                                _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                _ extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemory, stream, parameters, extra)
}

/// `CUlaunchConfig`: grid and block dimensions, dynamic shared memory, stream, then `numAttrs` attributes of
/// 72 bytes each (`u32 id`, padding, 64-byte value).
@_cdecl("cuLaunchKernelEx")
public func cuLaunchKernelEx(_ config: UnsafeRawPointer?, _ function: UInt, _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                             _ extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let config else { return CUresult.invalidValue }
    let u = { (i: Int) in config.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) }
    let stream = config.loadUnaligned(fromByteOffset: 32, as: UInt.self)
    let attributes = config.loadUnaligned(fromByteOffset: 40, as: UnsafeRawPointer?.self)
    let count = Int(config.loadUnaligned(fromByteOffset: 48, as: UInt32.self))
    var cooperative = false
    if let attributes {
        for i in 0..<count {
            let id = attributes.loadUnaligned(fromByteOffset: 72 * i, as: UInt32.self)
            let value = attributes.loadUnaligned(fromByteOffset: 72 * i + 8, as: Int32.self)
            switch id {
            case 2:  // cooperative: every block resident at once, grid-wide sync allowed
                cooperative = value != 0
            case 4 where value != 0 || attributes.loadUnaligned(fromByteOffset: 72 * i + 12, as: Int32.self) > 1:
                return CUresult.notSupported  // cluster dimensions
            default:
                continue  // priorities, access policies, synchronization hints: no effect here
            }
        }
    }
    return Driver.shared.launch(function, grid: Dim3(x: u(0), y: u(1), z: u(2)), block: Dim3(x: u(3), y: u(4), z: u(5)),
                                sharedMemory: u(6), stream: stream, parameters: parameters, extra: extra, cooperative: cooperative)
}

@_cdecl("cuLaunchKernelEx_ptsz")
public func cuLaunchKernelEx_ptsz(_ config: UnsafeRawPointer?, _ function: UInt, _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                  _ extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    cuLaunchKernelEx(config, function, parameters, extra)
}

@_cdecl("cuLaunchCooperativeKernel")
public func cuLaunchCooperativeKernel(_ function: UInt, _ gridX: UInt32, _ gridY: UInt32, _ gridZ: UInt32, _ blockX: UInt32, _ blockY: UInt32,
                                      _ blockZ: UInt32, _ sharedMemory: UInt32, _ stream: UInt,
                                      _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    Driver.shared.launch(function, grid: Dim3(x: gridX, y: gridY, z: gridZ), block: Dim3(x: blockX, y: blockY, z: blockZ),
                         sharedMemory: sharedMemory, stream: stream, parameters: parameters, extra: nil, cooperative: true)
}

@_cdecl("cuLaunchCooperativeKernel_ptsz")
public func cuLaunchCooperativeKernel_ptsz(_ function: UInt, _ gridX: UInt32, _ gridY: UInt32, _ gridZ: UInt32, _ blockX: UInt32, _ blockY: UInt32,
                                           _ blockZ: UInt32, _ sharedMemory: UInt32, _ stream: UInt,
                                           _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    cuLaunchCooperativeKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemory, stream, parameters)
}

// MARK: Host functions: run in stream order, on the calling thread once the stream's earlier work is done

@_cdecl("cuLaunchHostFunc")
public func cuLaunchHostFunc(_ stream: UInt, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                             _ data: UnsafeMutableRawPointer?) -> Int32 {
    guard let function else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let e) = driver.currentDevice() { return e.code }
    let e = CUresult.from(driver.core.synchronizeStream(stream))
    if e != 0 { return e }
    function(data)
    return CUresult.success
}

@_cdecl("cuLaunchHostFunc_ptsz")
public func cuLaunchHostFunc_ptsz(_ stream: UInt, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                                  _ data: UnsafeMutableRawPointer?) -> Int32 {
    cuLaunchHostFunc(stream, function, data)
}

@_cdecl("cuStreamAddCallback")
public func cuStreamAddCallback(_ stream: UInt, _ callback: (@convention(c) (UInt, Int32, UnsafeMutableRawPointer?) -> Void)?,
                                _ data: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    guard let callback, flags == 0 else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let e) = driver.currentDevice() { return e.code }
    // The callback learns the stream's status, errors included.
    let status = CUresult.from(driver.core.synchronizeStream(stream))
    if status == CUresult.invalidHandle { return status }
    callback(stream, status, data)
    return CUresult.success
}

@_cdecl("cuStreamAddCallback_ptsz")
public func cuStreamAddCallback_ptsz(_ stream: UInt, _ callback: (@convention(c) (UInt, Int32, UnsafeMutableRawPointer?) -> Void)?,
                                     _ data: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cuStreamAddCallback(stream, callback, data, flags)
}

@_cdecl("cuLaunchHostFunc_v2")
public func cuLaunchHostFunc_v2(_ stream: UInt, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                                _ data: UnsafeMutableRawPointer?, _ syncMode: UInt32) -> Int32 {
    cuLaunchHostFunc(stream, function, data)
}

@_cdecl("cuLaunchHostFunc_v2_ptsz")
public func cuLaunchHostFunc_v2_ptsz(_ stream: UInt, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                                     _ data: UnsafeMutableRawPointer?, _ syncMode: UInt32) -> Int32 {
    cuLaunchHostFunc(stream, function, data)
}
