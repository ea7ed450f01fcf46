import Synchronization
import TesseraClientCore

// Stream attributes (`CUlaunchAttributeValue`, 64 bytes): the access-policy window (persisting L2), the
// synchronisation policy, priority, memory-sync domains. They are hints to a GPU's cache and scheduler: Tessera
// keeps what a stream was given, so that reading it back (or copying it to another stream) answers the same,
// and the work runs unchanged. NVIDIA's static runtime calls these for `cudaStreamSetAttribute` and friends.

private struct StreamAttributeKey: Hashable {
    var stream: UInt
    var attribute: Int32
}

private var core: ClientCore { Driver.shared.core }

private let streamAttributes = Mutex<[StreamAttributeKey: [UInt8]]>([:])

/// `sizeof(CUstreamAttrValue)`.
private let attributeValueSize = 64

/// Attribute ids a stream takes: access policy window (1), synchronisation policy (3), priority (8), memory sync
/// domain map and domain (9, 10).
private let streamAttributeIDs: [Int32] = [1, 3, 8, 9, 10]

@_cdecl("cuStreamSetAttribute")
public func cuStreamSetAttribute(_ stream: UInt, _ attribute: Int32, _ value: UnsafeRawPointer?) -> Int32 {
    guard let value, streamAttributeIDs.contains(attribute) else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: value, count: attributeValueSize))
        streamAttributes.withLock { $0[StreamAttributeKey(stream: stream, attribute: attribute)] = bytes }
        return CUresult.success
    }
}

@_cdecl("cuStreamGetAttribute")
public func cuStreamGetAttribute(_ stream: UInt, _ attribute: Int32, _ value: UnsafeMutableRawPointer?) -> Int32 {
    guard let value, streamAttributeIDs.contains(attribute) else { return CUresult.invalidValue }
    return Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(stream) != nil else { return CUresult.invalidHandle }
        let stored = streamAttributes.withLock { $0[StreamAttributeKey(stream: stream, attribute: attribute)] }
        value.initializeMemory(as: UInt8.self, repeating: 0, count: attributeValueSize)
        if let stored { stored.withUnsafeBytes { value.copyMemory(from: $0.baseAddress!, byteCount: attributeValueSize) } }
        return CUresult.success
    }
}

@_cdecl("cuStreamCopyAttributes")
public func cuStreamCopyAttributes(_ destination: UInt, _ source: UInt) -> Int32 {
    Driver.shared.onCurrentDevice { _ in
        guard core.streamDevice(destination) != nil, core.streamDevice(source) != nil else { return CUresult.invalidHandle }
        streamAttributes.withLock { attributes in
            for id in streamAttributeIDs {
                attributes[StreamAttributeKey(stream: destination, attribute: id)] =
                    attributes[StreamAttributeKey(stream: source, attribute: id)]
            }
        }
        return CUresult.success
    }
}

@_cdecl("cuStreamSetAttribute_ptsz")
public func cuStreamSetAttribute_ptsz(_ s: UInt, _ a: Int32, _ v: UnsafeRawPointer?) -> Int32 { cuStreamSetAttribute(s, a, v) }
@_cdecl("cuStreamGetAttribute_ptsz")
public func cuStreamGetAttribute_ptsz(_ s: UInt, _ a: Int32, _ v: UnsafeMutableRawPointer?) -> Int32 { cuStreamGetAttribute(s, a, v) }
@_cdecl("cuStreamCopyAttributes_ptsz")
public func cuStreamCopyAttributes_ptsz(_ d: UInt, _ s: UInt) -> Int32 { cuStreamCopyAttributes(d, s) }
