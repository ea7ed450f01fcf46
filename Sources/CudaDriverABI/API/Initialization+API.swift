#if canImport(Glibc)
import Glibc
#endif
import CCudaDriver
import TesseraClientCore

@_cdecl("cuInit")
public func cuInit(_ flags: UInt32) -> Int32 {
    guard flags == 0 else { return CUresult.invalidValue }
    return Driver.shared.initialize()
}

@_cdecl("cuDriverGetVersion")
public func cuDriverGetVersion(_ version: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let version else { return CUresult.invalidValue }
    version.pointee = Driver.version
    return CUresult.success
}

/// C strings for error names and texts, made once and kept for the life of the process.
nonisolated(unsafe) private var errorStrings: [Int64: UnsafePointer<CChar>] = [:]

private func cString(_ key: Int64, _ text: String) -> UnsafePointer<CChar> {
    Driver.shared.withState {
        if let p = errorStrings[key] { return p }
        let p = UnsafePointer(strdup(text)!)
        errorStrings[key] = p
        return p
    }
}

@_cdecl("cuGetErrorName")
public func cuGetErrorName(_ error: Int32, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guard let name else { return CUresult.invalidValue }
    guard let d = CUresult.describe(error) else {
        name.pointee = nil
        return CUresult.invalidValue
    }
    name.pointee = cString(Int64(error) << 1, d.name)
    return CUresult.success
}

@_cdecl("cuGetErrorString")
public func cuGetErrorString(_ error: Int32, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guard let text else { return CUresult.invalidValue }
    guard let d = CUresult.describe(error) else {
        text.pointee = nil
        return CUresult.invalidValue
    }
    text.pointee = cString(Int64(error) << 1 | 1, d.text)
    return CUresult.success
}

// MARK: Hooks for the C glue (stubs, private tables)

@_cdecl("tessera_cu_unsupported")
public func tessera_cu_unsupported(_ name: UnsafePointer<CChar>?) -> Int32 {
    let n = name.map { String(cString: $0) } ?? "?"
    Log.once("unsupported:\(n)", "\(n) is not supported by Tessera; returning CUDA_ERROR_NOT_SUPPORTED")
    return CUresult.notSupported
}

@_cdecl("tessera_cu_debug")
public func tessera_cu_debug(_ message: UnsafePointer<CChar>?) {
    Log.debug(message.map { String(cString: $0) } ?? "")
}

@_cdecl("tessera_cu_driver_version")
public func tessera_cu_driver_version() -> Int32 { Driver.version }

@_cdecl("tessera_cu_device_count")
public func tessera_cu_device_count() -> Int32 {
    switch Driver.shared.devices() {
    case .success(let d): Int32(d.count)
    case .failure: 0
    }
}

@_cdecl("tessera_cu_device_identity")
public func tessera_cu_device_identity(_ device: Int32, _ uuid: UnsafeMutablePointer<UInt8>?, _ domain: UnsafeMutablePointer<Int32>?,
                                       _ bus: UnsafeMutablePointer<Int32>?, _ slot: UnsafeMutablePointer<Int32>?) -> Int32 {
    switch Driver.shared.device(device) {
    case .failure(let f): return f.code
    case .success(let d):
        if let uuid { for i in 0..<16 { uuid[i] = i < d.uuid.count ? d.uuid[i] : 0 } }
        domain?.pointee = Int32(DeviceAttributes.value(50, of: d) ?? 0)
        bus?.pointee = Int32(DeviceAttributes.value(33, of: d) ?? 0)
        slot?.pointee = Int32(DeviceAttributes.value(34, of: d) ?? 0)
        return CUresult.success
    }
}

@_cdecl("tessera_cu_primary_context")
public func tessera_cu_primary_context(_ context: UnsafeMutablePointer<UInt>?, _ device: Int32) -> Int32 {
    guard let context else { return CUresult.invalidValue }
    let driver = Driver.shared
    if case .failure(let f) = driver.device(device) { return f.code }
    context.pointee = driver.withState { driver.primaryContext(Int(device)).handle }
    return CUresult.success
}

// Profiler ranges have no effect: there is no profiler to start.
@_cdecl("cuProfilerStart")
public func cuProfilerStart() -> Int32 { CUresult.success }

@_cdecl("cuProfilerStop")
public func cuProfilerStop() -> Int32 { CUresult.success }

@_cdecl("cuProfilerInitialize")
public func cuProfilerInitialize(_ config: UnsafePointer<CChar>?, _ output: UnsafePointer<CChar>?, _ mode: Int32) -> Int32 { CUresult.success }
