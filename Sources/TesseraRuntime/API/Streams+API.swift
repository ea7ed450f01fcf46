import TesseraWire

private func none(_ r: inout WireReader) throws(WireError) {}

@_cdecl("cudaStreamCreateWithPriority")
public func cudaStreamCreateWithPriority(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32, _ priority: Int32) -> Int32 {
    guard let stream else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let device = ThreadState.current.device
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        let reply = rt.link(device).call(CreateStream(device: device, flags: flags, priority: priority)) { (r) throws(WireError) in try HandleReply(from: &r) }
        let (e, value) = rt.outcome(reply, device: device, synchronizing: false)
        guard e == 0, let value else { return e }
        rt.streams[UInt(value.handle)] = device
        stream.pointee = UInt(value.handle)
        return 0
    })
}

@_cdecl("cudaStreamCreateWithFlags")
public func cudaStreamCreateWithFlags(_ stream: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 {
    cudaStreamCreateWithPriority(stream, flags, 0)
}

@_cdecl("cudaStreamCreate")
public func cudaStreamCreate(_ stream: UnsafeMutablePointer<UInt>?) -> Int32 { cudaStreamCreateWithPriority(stream, 0, 0) }

@_cdecl("cudaStreamDestroy")
public func cudaStreamDestroy(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let s = UInt(bitPattern: stream)
        guard let device = rt.streams.removeValue(forKey: s) else { return CUDAError.invalidResourceHandle }
        rt.link(device).post(DestroyStream(handle: UInt64(s)))
        return 0
    })
}

@_cdecl("cudaStreamSynchronize")
public func cudaStreamSynchronize(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard let (device, handle) = rt.resolveStream(UInt(bitPattern: stream)) else { return CUDAError.invalidResourceHandle }
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        return rt.outcome(rt.link(device).call(SynchronizeStream(device: device, stream: handle), none), device: device, synchronizing: true).0
    })
}

@_cdecl("cudaStreamSynchronize_ptsz")
public func cudaStreamSynchronize_ptsz(_ stream: UnsafeMutableRawPointer?) -> Int32 { cudaStreamSynchronize(stream) }

@_cdecl("cudaStreamQuery")
public func cudaStreamQuery(_ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    let e = rt.withSession { _ in
        guard let (device, handle) = rt.resolveStream(UInt(bitPattern: stream)) else { return CUDAError.invalidResourceHandle }
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        return rt.outcome(rt.link(device).call(QueryStream(device: device, stream: handle), none), device: device, synchronizing: false).0
    }
    return e == CUDAError.notReady ? e : record(e)
}

@_cdecl("cudaStreamWaitEvent")
public func cudaStreamWaitEvent(_ stream: UnsafeMutableRawPointer?, _ event: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        guard let (device, handle) = rt.resolveStream(UInt(bitPattern: stream)) else { return CUDAError.invalidResourceHandle }
        guard device < rt.devices.count, let eventDevice = rt.events[UInt(bitPattern: event)] else { return CUDAError.invalidResourceHandle }
        if rt.link(eventDevice) !== rt.link(device) {
            // The event is on another node: wait for it here, so the stream's later work starts after it.
            return rt.outcome(rt.link(eventDevice).call(SynchronizeEvent(handle: UInt64(UInt(bitPattern: event))), none),
                              device: eventDevice, synchronizing: true).0
        }
        rt.link(device).post(StreamWaitEvent(device: device, stream: handle, event: UInt64(UInt(bitPattern: event))))
        return 0
    })
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

// MARK: Events

@_cdecl("cudaEventCreateWithFlags")
public func cudaEventCreateWithFlags(_ event: UnsafeMutablePointer<UInt>?, _ flags: UInt32) -> Int32 {
    guard let event else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let device = ThreadState.current.device
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        let reply = rt.link(device).call(CreateEvent(device: device, flags: flags)) { (r) throws(WireError) in try HandleReply(from: &r) }
        let (e, value) = rt.outcome(reply, device: device, synchronizing: false)
        guard e == 0, let value else { return e }
        rt.events[UInt(value.handle)] = device
        event.pointee = UInt(value.handle)
        return 0
    })
}

@_cdecl("cudaEventCreate")
public func cudaEventCreate(_ event: UnsafeMutablePointer<UInt>?) -> Int32 { cudaEventCreateWithFlags(event, 0) }

@_cdecl("cudaEventDestroy")
public func cudaEventDestroy(_ event: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let e = UInt(bitPattern: event)
        guard let device = rt.events.removeValue(forKey: e) else { return CUDAError.invalidResourceHandle }
        rt.link(device).post(DestroyEvent(handle: UInt64(e)))
        return 0
    })
}

@_cdecl("cudaEventRecord")
public func cudaEventRecord(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let e = UInt(bitPattern: event)
        guard let eventDevice = rt.events[e] else { return CUDAError.invalidResourceHandle }
        guard let (device, handle) = rt.resolveStream(UInt(bitPattern: stream)) else { return CUDAError.invalidResourceHandle }
        guard device < rt.devices.count else { return CUDAError.invalidDevice }
        // An event lives on its device's node; a stream of a device on another node cannot record it.
        guard rt.link(eventDevice) === rt.link(device) else { return CUDAError.invalidResourceHandle }
        rt.link(device).post(RecordEvent(device: device, event: UInt64(e), stream: handle))
        return 0
    })
}

@_cdecl("cudaEventRecordWithFlags")
public func cudaEventRecordWithFlags(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cudaEventRecord(event, stream)
}

@_cdecl("cudaEventRecord_ptsz")
public func cudaEventRecord_ptsz(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?) -> Int32 { cudaEventRecord(event, stream) }

@_cdecl("cudaEventSynchronize")
public func cudaEventSynchronize(_ event: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let e = UInt(bitPattern: event)
        guard let device = rt.events[e] else { return CUDAError.invalidResourceHandle }
        return rt.outcome(rt.link(device).call(SynchronizeEvent(handle: UInt64(e)), none), device: device, synchronizing: true).0
    })
}

@_cdecl("cudaEventQuery")
public func cudaEventQuery(_ event: UnsafeMutableRawPointer?) -> Int32 {
    let rt = Runtime.shared
    let result = rt.withSession { _ in
        let e = UInt(bitPattern: event)
        guard let device = rt.events[e] else { return CUDAError.invalidResourceHandle }
        return rt.outcome(rt.link(device).call(QueryEvent(handle: UInt64(e)), none), device: device, synchronizing: false).0
    }
    return result == CUDAError.notReady ? result : record(result)
}

@_cdecl("cudaEventElapsedTime")
public func cudaEventElapsedTime(_ milliseconds: UnsafeMutablePointer<Float>?, _ start: UnsafeMutableRawPointer?, _ end: UnsafeMutableRawPointer?) -> Int32 {
    guard let milliseconds else { return record(CUDAError.invalidValue) }
    let rt = Runtime.shared
    return record(rt.withSession { _ in
        let a = UInt(bitPattern: start), b = UInt(bitPattern: end)
        guard let device = rt.events[a], let other = rt.events[b], rt.link(device) === rt.link(other) else { return CUDAError.invalidResourceHandle }
        let reply = rt.link(device).call(EventElapsedTime(start: UInt64(a), end: UInt64(b))) { (r) throws(WireError) in try ElapsedTimeReply(from: &r) }
        let (e, value) = rt.outcome(reply, device: device, synchronizing: false)
        guard e == 0, let value else { return e }
        milliseconds.pointee = value.milliseconds
        return 0
    })
}
