import Synchronization

/// Pinned host buffers the node mapped into the program's devices: base → size. Kernels address them at the
/// program's own pointer (unified addressing), so the device pointer of such memory is the host pointer.
private let mappedHost = Mutex<[UInt: Int]>([:])

extension ClientCore {
    func noteMappedHost(base: UInt, size: Int) {
        mappedHost.withLock { $0[base] = size }
    }

    func forgetMappedHost(base: UInt) {
        _ = mappedHost.withLock { $0.removeValue(forKey: base) }
    }

    /// `cudaHostGetDevicePointer` / `cuMemHostGetDevicePointer`: the device address of pinned host memory.
    /// - Returns: the address (the host pointer itself), `notSupported` when the node is reached over the
    ///   network (its devices cannot address this machine's memory), else `invalidValue` (not pinned memory).
    package func hostDevicePointer(_ host: UInt) -> (Int32, UInt64) {
        let mapped = mappedHost.withLock { m in m.contains { host >= $0.key && host < $0.key + UInt($0.value) } }
        if mapped { return (0, UInt64(host)) }
        var remote = false, pinnedHere = false
        let e = withSession { c in
            remote = !c.isLocal
            pinnedHere = pinnedBuffer(containing: host, count: 1) != nil
            return 0
        }
        if e != 0 { return (e, 0) }
        if remote {
            Log.once("mapped", "mapped (zero-copy) host memory needs the program and the Tessera node on one machine; this node is reached over the network")
            return (CUDAError.notSupported, 0)
        }
        if pinnedHere {
            Log.once("mapped", "mapped (zero-copy) host memory is not supported by this node's GPUs")
            return (CUDAError.notSupported, 0)
        }
        return (CUDAError.invalidValue, 0)
    }
}
