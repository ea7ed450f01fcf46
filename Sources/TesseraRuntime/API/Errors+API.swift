#if canImport(Glibc)
import Glibc
#endif
import TesseraClientCore

/// Records a failed call's error as the thread's last error and returns it.
@inline(__always)
func record(_ e: Int32) -> Int32 {
    if e != 0 { ThreadState.current.lastError = e }
    return e
}

/// C strings for error names and texts, made once and kept for the life of the process.
private let errorStrings = Lock()
nonisolated(unsafe) private var errorStringCache: [Int64: UnsafePointer<CChar>] = [:]

private func cString(_ key: Int64, _ text: String) -> UnsafePointer<CChar> {
    errorStrings.withLock {
        if let p = errorStringCache[key] { return p }
        let p = UnsafePointer(strdup(text)!)
        errorStringCache[key] = p
        return p
    }
}

@_cdecl("tessera_unsupported")
public func tessera_unsupported(_ name: UnsafePointer<CChar>?) -> Int32 {
    let n = name.map { String(cString: $0) } ?? "?"
    Log.once("unsupported:\(n)", "\(n) is not supported by Tessera; returning cudaErrorNotSupported")
    return record(CUDAError.notSupported)
}

@_cdecl("cudaGetLastError")
public func cudaGetLastError() -> Int32 {
    let ts = ThreadState.current
    let e = ts.lastError
    let rt = Runtime.shared
    ts.lastError = rt.lock.withLock { rt.sticky(ts.device) }
    return e
}

@_cdecl("cudaPeekAtLastError")
public func cudaPeekAtLastError() -> Int32 { ThreadState.current.lastError }

@_cdecl("cudaGetErrorName")
public func cudaGetErrorName(_ error: Int32) -> UnsafePointer<CChar> { cString(Int64(error) << 1, CUDAError.describe(error).name) }

@_cdecl("cudaGetErrorString")
public func cudaGetErrorString(_ error: Int32) -> UnsafePointer<CChar> { cString(Int64(error) << 1 | 1, CUDAError.describe(error).text) }

@_cdecl("cudaDriverGetVersion")
public func cudaDriverGetVersion(_ version: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let version else { return record(CUDAError.invalidValue) }
    version.pointee = 13000
    return 0
}

@_cdecl("cudaProfilerStart")
public func cudaProfilerStart() -> Int32 { 0 }

@_cdecl("cudaProfilerStop")
public func cudaProfilerStop() -> Int32 { 0 }
