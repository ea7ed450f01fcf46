import TesseraClientCore

private var core: ClientCore { Driver.shared.core }

@_cdecl("cuStreamCreateWithPriority")
public func cuStreamCreateWithPriority(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32, _ priority: Int32) -> Int32 {
    guard let stream, flags <= 1 else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.onCurrentDevice { _ in
        // Priorities outside the range clamp to it, as CUDA's do.
        let p = min(0, max(-5, priority))
        let (e, handle) = core.createStream(flags: flags, priority: p)
        guard e == 0 else { return CUresult.from(e) }
        driver.withState { driver.streamFlags[handle] = (flags, p) }
        stream.pointee = handle
        return CUresult.success
    }
}

@_cdecl("cuStreamCreate")
public func cuStreamCreate(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 { cuStreamCreateWithPriority(stream, flags, 0) }

@_cdecl("cuStreamDestroy_v2")
public func cuStreamDestroy_v2(_ stream: UInt) -> Int32 {
    let driver = Driver.shared
    return driver.onCurrentDevice { _ in
        let e = CUresult.from(core.destroyStream(stream))
        if e == 0 { driver.withState { driver.streamFlags[stream] = nil } }
        return e
    }
}

@_cdecl("cuStreamSynchronize")
public func cuStreamSynchronize(_ stream: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.synchronizeStream(stream)) }
}

@_cdecl("cuStreamQuery")
public func cuStreamQuery(_ stream: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.queryStream(stream)) }
}

@_cdecl("cuStreamWaitEvent")
public func cuStreamWaitEvent(_ stream: UInt, _ event: UInt, _ flags: UInt32) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.streamWaitEvent(stream, event)) }
}

@_cdecl("cuStreamGetPriority")
public func cuStreamGetPriority(_ stream: UInt, _ priority: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let priority else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        priority.pointee = driver.withState { driver.streamFlags[stream]?.priority ?? 0 }
        return CUresult.success
    }
}

@_cdecl("cuStreamGetFlags")
public func cuStreamGetFlags(_ stream: UInt, _ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let flags else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        flags.pointee = driver.withState { driver.streamFlags[stream]?.flags ?? 0 }
        return CUresult.success
    }
}

@_cdecl("cuStreamGetDevice")
public func cuStreamGetDevice(_ stream: UInt, _ device: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let device else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard let d = core.streamDevice(stream) else { return CUresult.invalidHandle }
        device.pointee = Int32(d)
        return CUresult.success
    }
}

@_cdecl("cuStreamGetCtx")
public func cuStreamGetCtx(_ stream: UInt, _ context: UnsafeMutablePointer<UInt>?) -> Int32 {
    guard let context else { return CUresult.invalidValue }
    let driver = Driver.shared
    return driver.onCurrentDevice { current in
        guard let d = core.streamDevice(stream) else { return CUresult.invalidHandle }
        // The default streams belong to the current context; created streams to their device's primary one.
        if stream <= 2, let c = driver.currentContext() {
            context.pointee = c.handle
        } else {
            context.pointee = driver.withState { driver.primaryContext(d).handle }
        }
        return CUresult.success
    }
}

@_cdecl("cuStreamGetCtx_v2")
public func cuStreamGetCtx_v2(_ stream: UInt, _ context: UnsafeMutablePointer<UInt>?, _ green: UnsafeMutablePointer<UInt>?) -> Int32 {
    green?.pointee = 0
    return cuStreamGetCtx(stream, context)
}

@_cdecl("cuStreamGetId")
public func cuStreamGetId(_ stream: UInt, _ id: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let id else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        id.pointee = UInt64(stream)
        return CUresult.success
    }
}

/// Stream capture (CUDA graphs) is not offered: no stream is ever capturing.
@_cdecl("cuStreamIsCapturing")
public func cuStreamIsCapturing(_ stream: UInt, _ status: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let status else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        status.pointee = 0  // CU_STREAM_CAPTURE_STATUS_NONE
        return CUresult.success
    }
}

@_cdecl("cuStreamGetCaptureInfo_v2")
public func cuStreamGetCaptureInfo_v2(_ stream: UInt, _ status: UnsafeMutablePointer<Int32>?, _ id: UnsafeMutablePointer<UInt64>?,
                                      _ graph: UnsafeMutablePointer<UInt>?, _ dependencies: UnsafeMutableRawPointer?,
                                      _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let status else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        status.pointee = 0
        id?.pointee = 0
        graph?.pointee = 0
        count?.pointee = 0
        return CUresult.success
    }
}

@_cdecl("cuStreamGetCaptureInfo_v3")
public func cuStreamGetCaptureInfo_v3(_ stream: UInt, _ status: UnsafeMutablePointer<Int32>?, _ id: UnsafeMutablePointer<UInt64>?,
                                      _ graph: UnsafeMutablePointer<UInt>?, _ dependencies: UnsafeMutableRawPointer?,
                                      _ edges: UnsafeMutableRawPointer?, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    cuStreamGetCaptureInfo_v2(stream, status, id, graph, dependencies, count)
}

@_cdecl("cuStreamSynchronize_ptsz")
public func cuStreamSynchronize_ptsz(_ s: UInt) -> Int32 { cuStreamSynchronize(s) }
@_cdecl("cuStreamQuery_ptsz")
public func cuStreamQuery_ptsz(_ s: UInt) -> Int32 { cuStreamQuery(s) }
@_cdecl("cuStreamWaitEvent_ptsz")
public func cuStreamWaitEvent_ptsz(_ s: UInt, _ e: UInt, _ f: UInt32) -> Int32 { cuStreamWaitEvent(s, e, f) }
@_cdecl("cuStreamGetPriority_ptsz")
public func cuStreamGetPriority_ptsz(_ s: UInt, _ p: UnsafeMutablePointer<Int32>?) -> Int32 { cuStreamGetPriority(s, p) }
@_cdecl("cuStreamGetFlags_ptsz")
public func cuStreamGetFlags_ptsz(_ s: UInt, _ f: UnsafeMutablePointer<UInt32>?) -> Int32 { cuStreamGetFlags(s, f) }
@_cdecl("cuStreamGetDevice_ptsz")
public func cuStreamGetDevice_ptsz(_ s: UInt, _ d: UnsafeMutablePointer<Int32>?) -> Int32 { cuStreamGetDevice(s, d) }
@_cdecl("cuStreamGetCtx_ptsz")
public func cuStreamGetCtx_ptsz(_ s: UInt, _ c: UnsafeMutablePointer<UInt>?) -> Int32 { cuStreamGetCtx(s, c) }
@_cdecl("cuStreamGetCtx_v2_ptsz")
public func cuStreamGetCtx_v2_ptsz(_ s: UInt, _ c: UnsafeMutablePointer<UInt>?, _ g: UnsafeMutablePointer<UInt>?) -> Int32 { cuStreamGetCtx_v2(s, c, g) }
@_cdecl("cuStreamGetId_ptsz")
public func cuStreamGetId_ptsz(_ s: UInt, _ id: UnsafeMutablePointer<UInt64>?) -> Int32 { cuStreamGetId(s, id) }
@_cdecl("cuStreamIsCapturing_ptsz")
public func cuStreamIsCapturing_ptsz(_ s: UInt, _ st: UnsafeMutablePointer<Int32>?) -> Int32 { cuStreamIsCapturing(s, st) }
@_cdecl("cuStreamGetCaptureInfo_v2_ptsz")
public func cuStreamGetCaptureInfo_v2_ptsz(_ s: UInt, _ st: UnsafeMutablePointer<Int32>?, _ id: UnsafeMutablePointer<UInt64>?,
                                           _ g: UnsafeMutablePointer<UInt>?, _ d: UnsafeMutableRawPointer?, _ n: UnsafeMutablePointer<Int>?) -> Int32 {
    cuStreamGetCaptureInfo_v2(s, st, id, g, d, n)
}
@_cdecl("cuStreamGetCaptureInfo_v3_ptsz")
public func cuStreamGetCaptureInfo_v3_ptsz(_ s: UInt, _ st: UnsafeMutablePointer<Int32>?, _ id: UnsafeMutablePointer<UInt64>?,
                                           _ g: UnsafeMutablePointer<UInt>?, _ d: UnsafeMutableRawPointer?, _ ed: UnsafeMutableRawPointer?,
                                           _ n: UnsafeMutablePointer<Int>?) -> Int32 {
    cuStreamGetCaptureInfo_v3(s, st, id, g, d, ed, n)
}

// MARK: Events

@_cdecl("cuEventCreate")
public func cuEventCreate(_ event: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 {
    guard let event else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        let (e, handle) = core.createEvent(flags: flags)
        if e == 0 { event.pointee = handle }
        return CUresult.from(e)
    }
}

@_cdecl("cuEventDestroy_v2")
public func cuEventDestroy_v2(_ event: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.destroyEvent(event)) }
}

@_cdecl("cuEventRecord")
public func cuEventRecord(_ event: UInt, _ stream: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.recordEvent(event, stream: stream)) }
}

@_cdecl("cuEventRecordWithFlags")
public func cuEventRecordWithFlags(_ event: UInt, _ stream: UInt, _ flags: UInt32) -> Int32 { cuEventRecord(event, stream) }

@_cdecl("cuEventSynchronize")
public func cuEventSynchronize(_ event: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.synchronizeEvent(event)) }
}

@_cdecl("cuEventQuery")
public func cuEventQuery(_ event: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in CUresult.from(core.queryEvent(event)) }
}

@_cdecl("cuEventElapsedTime")
public func cuEventElapsedTime(_ milliseconds: UnsafeMutablePointer<Float>?, _ start: UInt, _ end: UInt) -> Int32 {
    guard let milliseconds else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        let (e, ms) = core.elapsedTime(start, end)
        if e == 0 { milliseconds.pointee = ms }
        return CUresult.from(e)
    }
}

@_cdecl("cuEventElapsedTime_v2")
public func cuEventElapsedTime_v2(_ milliseconds: UnsafeMutablePointer<Float>?, _ start: UInt, _ end: UInt) -> Int32 {
    cuEventElapsedTime(milliseconds, start, end)
}

@_cdecl("cuEventRecord_ptsz")
public func cuEventRecord_ptsz(_ e: UInt, _ s: UInt) -> Int32 { cuEventRecord(e, s) }
@_cdecl("cuEventRecordWithFlags_ptsz")
public func cuEventRecordWithFlags_ptsz(_ e: UInt, _ s: UInt, _ f: UInt32) -> Int32 { cuEventRecord(e, s) }
