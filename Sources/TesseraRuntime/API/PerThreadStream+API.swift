import TesseraClientCore
// Per-thread default stream variants (`nvcc --default-stream per-thread` binds to these names). Tessera runs
// the per-thread default stream as the device's default stream, so each forwards to the plain call.

@_cdecl("cudaMemcpy2D_ptds")
public func cudaMemcpy2D_ptds(_ d: UnsafeMutableRawPointer?, _ dp: Int, _ s: UnsafeRawPointer?, _ sp: Int, _ w: Int, _ h: Int, _ k: Int32) -> Int32 {
    cudaMemcpy2D(d, dp, s, sp, w, h, k)
}

@_cdecl("cudaMemcpy2DAsync_ptsz")
public func cudaMemcpy2DAsync_ptsz(_ d: UnsafeMutableRawPointer?, _ dp: Int, _ s: UnsafeRawPointer?, _ sp: Int, _ w: Int, _ h: Int, _ k: Int32,
                                   _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemcpy2DAsync(d, dp, s, sp, w, h, k, stream)
}

@_cdecl("cudaMemset_ptds")
public func cudaMemset_ptds(_ d: UnsafeMutableRawPointer?, _ v: Int32, _ n: Int) -> Int32 { cudaMemset(d, v, n) }

@_cdecl("cudaMemsetAsync_ptsz")
public func cudaMemsetAsync_ptsz(_ d: UnsafeMutableRawPointer?, _ v: Int32, _ n: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemsetAsync(d, v, n, stream)
}

@_cdecl("cudaMemset2D_ptds")
public func cudaMemset2D_ptds(_ d: UnsafeMutableRawPointer?, _ p: Int, _ v: Int32, _ w: Int, _ h: Int) -> Int32 { cudaMemset2D(d, p, v, w, h) }

@_cdecl("cudaMemset2DAsync_ptsz")
public func cudaMemset2DAsync_ptsz(_ d: UnsafeMutableRawPointer?, _ p: Int, _ v: Int32, _ w: Int, _ h: Int, _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemset2DAsync(d, p, v, w, h, stream)
}

@_cdecl("cudaMemcpyToSymbol_ptds")
public func cudaMemcpyToSymbol_ptds(_ sym: UnsafeRawPointer?, _ s: UnsafeRawPointer?, _ n: Int, _ o: Int, _ k: Int32) -> Int32 {
    cudaMemcpyToSymbol(sym, s, n, o, k)
}

@_cdecl("cudaMemcpyFromSymbol_ptds")
public func cudaMemcpyFromSymbol_ptds(_ d: UnsafeMutableRawPointer?, _ sym: UnsafeRawPointer?, _ n: Int, _ o: Int, _ k: Int32) -> Int32 {
    cudaMemcpyFromSymbol(d, sym, n, o, k)
}

@_cdecl("cudaMemcpyToSymbolAsync_ptsz")
public func cudaMemcpyToSymbolAsync_ptsz(_ sym: UnsafeRawPointer?, _ s: UnsafeRawPointer?, _ n: Int, _ o: Int, _ k: Int32,
                                         _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemcpyToSymbolAsync(sym, s, n, o, k, stream)
}

@_cdecl("cudaMemcpyFromSymbolAsync_ptsz")
public func cudaMemcpyFromSymbolAsync_ptsz(_ d: UnsafeMutableRawPointer?, _ sym: UnsafeRawPointer?, _ n: Int, _ o: Int, _ k: Int32,
                                           _ stream: UnsafeMutableRawPointer?) -> Int32 {
    cudaMemcpyFromSymbolAsync(d, sym, n, o, k, stream)
}

@_cdecl("cudaStreamQuery_ptsz")
public func cudaStreamQuery_ptsz(_ stream: UnsafeMutableRawPointer?) -> Int32 { cudaStreamQuery(stream) }

@_cdecl("cudaStreamWaitEvent_ptsz")
public func cudaStreamWaitEvent_ptsz(_ stream: UnsafeMutableRawPointer?, _ event: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cudaStreamWaitEvent(stream, event, flags)
}

@_cdecl("cudaEventRecordWithFlags_ptsz")
public func cudaEventRecordWithFlags_ptsz(_ event: UnsafeMutableRawPointer?, _ stream: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    cudaEventRecord(event, stream)
}

@_cdecl("cudaStreamGetFlags_ptsz")
public func cudaStreamGetFlags_ptsz(_ stream: UnsafeMutableRawPointer?, _ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    cudaStreamGetFlags(stream, flags)
}

@_cdecl("cudaStreamGetPriority_ptsz")
public func cudaStreamGetPriority_ptsz(_ stream: UnsafeMutableRawPointer?, _ priority: UnsafeMutablePointer<Int32>?) -> Int32 {
    cudaStreamGetPriority(stream, priority)
}
