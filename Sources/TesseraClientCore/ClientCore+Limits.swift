import Synchronization
import TesseraWire

/// `cudaLimit` / `CUlimit` values each device was given; what was never set reads as CUDA's default.
private let limitValues = Mutex<[LimitKey: Int]>([:])

private struct LimitKey: Hashable {
    var device: Int
    var limit: Int32
}

extension ClientCore {
    /// CUDA's defaults, by `cudaLimit` number (0 stack, 1 printf FIFO, 2 malloc heap, 3 sync depth,
    /// 4 pending launches, 5 L2 fetch granularity, 6 persisting L2).
    private static let defaultLimits: [Int32: Int] = [0: 1024, 1: 1 << 20, 2: 8 << 20, 3: 2, 4: 2048, 5: 32, 6: 0]

    /// `cudaDeviceGetLimit` / `cuCtxGetLimit` on `device`.
    package func limit(_ limit: Int32, device: Int) -> (Int32, Int) {
        guard let fallback = Self.defaultLimits[limit] else { return (CUDAError.invalidValue, 0) }
        return (0, limitValues.withLock { $0[LimitKey(device: device, limit: limit)] } ?? fallback)
    }

    /// `cudaDeviceSetLimit` / `cuCtxSetLimit` on `device`. The stack and printf FIFO sizes go to the node
    /// (the simulator sizes its printf buffer by it); the others are hints the device side accepts.
    package func setLimit(_ limit: Int32, value: Int, device: Int) -> Int32 {
        guard Self.defaultLimits[limit] != nil, value >= 0 else { return CUDAError.invalidValue }
        var stored = value
        let e = withDevice(device) { device, link in
            if limit == Int32(SetLimit.stackSize) || limit == Int32(SetLimit.printfFifoSize) {
                link.post(SetLimit(device: device, limit: UInt32(limit), value: value))
            }
            // The persisting-L2 set-aside is capped at what the device reports (cudaDevAttrMaxPersistingL2CacheSize).
            if limit == 6 { stored = min(value, DeviceAttributes.value(108, of: devices[device]) ?? 0) }
            return 0
        }
        if e == 0 { limitValues.withLock { $0[LimitKey(device: device, limit: limit)] = stored } }
        return e
    }
}
