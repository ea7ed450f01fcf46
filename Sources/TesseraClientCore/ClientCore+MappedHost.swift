#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TesseraWire

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

    /// Shares registered host memory with the home node when it is a shared mapping of a sealed memfd (a
    /// local session only), so the node maps it into its devices at `base` as it does pinned memory. Best
    /// effort: memory the node cannot map stays registered and copy-only. Callers hold the lock.
    func mapRegisteredHost(_ base: UInt, size: Int) {
        _ = withSession { c in
            guard c.isLocal, let file = SharedFileMapping.file(mapping: base, size: size) else { return 0 }
            defer { close(file) }
            let id = nextRegionID
            nextRegionID += 1
            let reply = c.call(RegisterHostMemory(region: id, size: size, address: UInt64(base)), passing: file) {
                (r) throws(WireError) in try RegisterHostMemoryReply(from: &r)
            }
            let (e, registered) = outcome(reply, device: nil, synchronizing: false)
            guard e == 0 else { return e }
            registeredRegions[base] = id
            if registered?.mapped == true {
                noteMappedHost(base: base, size: size)
            } else {
                // The node's devices cannot address it: nothing gains from the node keeping it.
                _ = unmapRegisteredHost(base)
            }
            return 0
        }
    }

    /// Stops sharing registered host memory with the node (after the work queued so far). Callers hold the lock.
    func unmapRegisteredHost(_ base: UInt) -> Int32 {
        guard let region = registeredRegions.removeValue(forKey: base) else { return 0 }
        forgetMappedHost(base: base)
        return withSession { c in
            outcome(c.call(UnregisterHostMemory(region: region)) { (_) throws(WireError) in () }, device: nil, synchronizing: true).0
        }
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
