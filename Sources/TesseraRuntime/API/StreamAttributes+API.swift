import Synchronization
import TesseraClientCore

// Stream attributes (`cudaLaunchAttributeValue`, 64 bytes): the access-policy window (persisting L2), the
// synchronisation policy, priorities. They are hints to a GPU's cache and scheduler; Tessera remembers what
// a stream was given, so that reading it back answers the same, and the work runs unchanged.

private struct StreamAttributeKey: Hashable {
    var stream: UInt
    var attribute: Int32
}

private let streamAttributes = Mutex<[StreamAttributeKey: [UInt8]]>([:])

/// `sizeof(cudaLaunchAttributeValue)`.
private let attributeValueSize = 64

/// Attribute ids a stream takes: access policy window (1), synchronisation policy (3), priority (8),
/// memory sync domain map and domain (9, 10).
private let streamAttributeIDs: Set<Int32> = [1, 3, 8, 9, 10]

@_cdecl("cudaStreamSetAttribute")
public func cudaStreamSetAttribute(_ stream: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeRawPointer?) -> Int32 {
    guard let value, streamAttributeIDs.contains(attribute) else { return record(CUDAError.invalidValue) }
    guard Runtime.shared.streamDevice(UInt(bitPattern: stream)) != nil else { return record(CUDAError.invalidResourceHandle) }
    let bytes = [UInt8](UnsafeRawBufferPointer(start: value, count: attributeValueSize))
    streamAttributes.withLock { $0[StreamAttributeKey(stream: UInt(bitPattern: stream), attribute: attribute)] = bytes }
    return 0
}

@_cdecl("cudaStreamSetAttribute_ptsz")
public func cudaStreamSetAttribute_ptsz(_ stream: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeRawPointer?) -> Int32 {
    cudaStreamSetAttribute(stream, attribute, value)
}

@_cdecl("cudaStreamGetAttribute")
public func cudaStreamGetAttribute(_ stream: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard let value, streamAttributeIDs.contains(attribute) else { return record(CUDAError.invalidValue) }
    guard Runtime.shared.streamDevice(UInt(bitPattern: stream)) != nil else { return record(CUDAError.invalidResourceHandle) }
    let stored = streamAttributes.withLock { $0[StreamAttributeKey(stream: UInt(bitPattern: stream), attribute: attribute)] }
    value.initializeMemory(as: UInt8.self, repeating: 0, count: attributeValueSize)
    if let stored { stored.withUnsafeBytes { value.copyMemory(from: $0.baseAddress!, byteCount: attributeValueSize) } }
    return 0
}

@_cdecl("cudaStreamGetAttribute_ptsz")
public func cudaStreamGetAttribute_ptsz(_ stream: UnsafeMutableRawPointer?, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    cudaStreamGetAttribute(stream, attribute, value)
}

@_cdecl("cudaCtxResetPersistingL2Cache")
public func cudaCtxResetPersistingL2Cache() -> Int32 {
    // Demotes persisting lines to normal ones: the simulated device has no cache to reset.
    let rt = Runtime.shared
    return record(rt.withSession { _ in rt.checkDevice(ThreadState.current.device) })
}

@_cdecl("cudaStreamCopyAttributes")
public func cudaStreamCopyAttributes(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeMutableRawPointer?) -> Int32 {
    let (d, s) = (UInt(bitPattern: destination), UInt(bitPattern: source))
    guard Runtime.shared.streamDevice(d) != nil, Runtime.shared.streamDevice(s) != nil else {
        return record(CUDAError.invalidResourceHandle)
    }
    streamAttributes.withLock { attributes in
        for id in streamAttributeIDs {
            attributes[StreamAttributeKey(stream: d, attribute: id)] = attributes[StreamAttributeKey(stream: s, attribute: id)]
        }
    }
    return 0
}

@_cdecl("cudaStreamCopyAttributes_ptsz")
public func cudaStreamCopyAttributes_ptsz(_ destination: UnsafeMutableRawPointer?, _ source: UnsafeMutableRawPointer?) -> Int32 {
    cudaStreamCopyAttributes(destination, source)
}
