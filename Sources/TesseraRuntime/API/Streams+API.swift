import TesseraClientCore

@_cdecl("cudaStreamCreateWithPriority")
public func cudaStreamCreateWithPriority(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32, _ priority: Int32) -> Int32 {
    guard let stream else { return record(CUDAError.invalidValue) }
    let (e, handle) = Runtime.shared.createStream(flags: flags, priority: priority)
    if e == 0 { stream.pointee = handle }
    return record(e)
}

@_cdecl("cudaStreamCreateWithFlags")
public func cudaStreamCreateWithFlags(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 {
    cudaStreamCreateWithPriority(stream, flags, 0)
}

@_cdecl("cudaStreamCreate")
public func cudaStreamCreate(_ stream: UnsafeMutablePointer<UInt>?) -> Int32 { cudaStreamCreateWithPriority(stream, 0, 0) }

@_cdecl("cudaStreamDestroy")
public func cudaStreamDestroy(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.destroyStream(UInt(bitPattern: stream)))
}

@_cdecl("cudaStreamSynchronize")
public func cudaStreamSynchronize(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.synchronizeStream(UInt(bitPattern: stream)))
}

@_cdecl("cudaStreamSynchronize_ptsz")
public func cudaStreamSynchronize_ptsz(_ stream: UnsafeMutableRawPointer?) -> Int32 { cudaStreamSynchronize(stream) }

@_cdecl("cudaStreamQuery")
public func cudaStreamQuery(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    let e = Runtime.shared.queryStream(UInt(bitPattern: stream))
    return e == CUDAError.notReady ? e : record(e)
}

@_cdecl("cudaStreamWaitEvent")
public func cudaStreamWaitEvent(_ stream: UnsafeMutableRawPointer?, _ event: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    record(Runtime.shared.streamWaitEvent(UInt(bitPattern: stream), UInt(bitPattern: event)))
}

@_cdecl("cudaStreamGetFlags")
public func cudaStreamGetFlags(_ stream: UnsafeMutableRawPointer?, _ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    flags?.pointee = 0
    return 0
}

@_cdecl("cudaStreamGetPriority")
public func cudaStreamGetPriority(_ stream: UnsafeMutableRawPointer?, _ priority: UnsafeMutablePointer<Int32>?) -> Int32 {
    priority?.pointee = 0
    return 0
}

/// Host work runs in stream order on the calling thread, once the stream's earlier work is done.
@_cdecl("cudaLaunchHostFunc")
public func cudaLaunchHostFunc(_ stream: UnsafeMutableRawPointer?, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                               _ data: UnsafeMutableRawPointer?) -> Int32 {
    guard let function else { return record(CUDAError.invalidValue) }
    let e = Runtime.shared.synchronizeStream(UInt(bitPattern: stream))
    if e != 0 { return record(e) }
    function(data)
    return 0
}

@_cdecl("cudaLaunchHostFunc_ptsz")
public func cudaLaunchHostFunc_ptsz(_ stream: UnsafeMutableRawPointer?, _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                                    _ data: UnsafeMutableRawPointer?) -> Int32 {
    cudaLaunchHostFunc(stream, function, data)
}

/// The callback learns the stream's status, errors included.
@_cdecl("cudaStreamAddCallback")
public func cudaStreamAddCallback(_ stream: UnsafeMutableRawPointer?,
                                  _ callback: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeMutableRawPointer?) -> Void)?,
                                  _ data: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    guard let callback, flags == 0 else { return record(CUDAError.invalidValue) }
    let status = Runtime.shared.synchronizeStream(UInt(bitPattern: stream))
    if status == CUDAError.invalidResourceHandle { return record(status) }
    callback(stream, status, data)
    return 0
}

@_cdecl("cudaStreamAddCallback_ptsz")
public func cudaStreamAddCallback_ptsz(_ stream: UnsafeMutableRawPointer?,
                                       _ callback: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeMutableRawPointer?) -> Void)?,
                                       _ data: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cudaStreamAddCallback(stream, callback, data, flags)
}

// MARK: Events

@_cdecl("cudaEventCreateWithFlags")
public func cudaEventCreateWithFlags(_ event: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 {
    guard let event else { return record(CUDAError.invalidValue) }
    let (e, handle) = Runtime.shared.createEvent(flags: flags)
    if e == 0 { event.pointee = handle }
    return record(e)
}

@_cdecl("cudaEventCreate")
public func cudaEventCreate(_ event: UnsafeMutablePointer<UInt>?) -> Int32 { cudaEventCreateWithFlags(event, 0) }

@_cdecl("cudaEventDestroy")
public func cudaEventDestroy(_ event: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.destroyEvent(UInt(bitPattern: event)))
}

@_cdecl("cudaEventRecord")
public func cudaEventRecord(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.recordEvent(UInt(bitPattern: event), stream: UInt(bitPattern: stream)))
}

@_cdecl("cudaEventRecordWithFlags")
public func cudaEventRecordWithFlags(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cudaEventRecord(event, stream)
}

@_cdecl("cudaEventRecord_ptsz")
public func cudaEventRecord_ptsz(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 { cudaEventRecord(event, stream) }

@_cdecl("cudaEventSynchronize")
public func cudaEventSynchronize(_ event: UnsafeMutableRawPointer?) -> Int32 {
    record(Runtime.shared.synchronizeEvent(UInt(bitPattern: event)))
}

@_cdecl("cudaEventQuery")
public func cudaEventQuery(_ event: UnsafeMutableRawPointer?) -> Int32 {
    let e = Runtime.shared.queryEvent(UInt(bitPattern: event))
    return e == CUDAError.notReady ? e : record(e)
}

@_cdecl("cudaEventElapsedTime")
public func cudaEventElapsedTime(_ milliseconds: UnsafeMutablePointer<Float>?, _ start: UnsafeMutableRawPointer?, _ end: UnsafeMutableRawPointer?) -> Int32 {
    guard let milliseconds else { return record(CUDAError.invalidValue) }
    let (e, ms) = Runtime.shared.elapsedTime(UInt(bitPattern: start), UInt(bitPattern: end))
    if e == 0 { milliseconds.pointee = ms }
    return record(e)
}
