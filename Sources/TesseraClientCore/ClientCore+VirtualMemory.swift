import TesseraWire

extension ClientCore {
    /// CUDA's virtual memory management, executed by the vGPU's node. Handles the node gives are per vGPU: the
    /// program sees them with the device in the top byte, so a handle names its vGPU.
    package func virtualMemory(_ operation: VirtualMemoryOperation, device: Int? = nil) -> (Int32, UInt64) {
        var result: UInt64 = 0
        let e = withDevice(device) { device, link in
            let reply = link.call(VirtualMemoryRequest(device: device, operation: operation)) { (r) throws(WireError) in
                try VirtualMemoryReply(from: &r)
            }
            let (e, value) = outcome(reply, device: device, synchronizing: false)
            guard e == 0, let value else { return e }
            switch operation {
            case let .reserve(size, _, _): reservations[value.value] = (device, size)
            case let .free(address, _): reservations[address] = nil
            default: break
            }
            result = value.value
            return 0
        }
        return (e, result)
    }

    /// The vGPU whose reservation holds `address`, if any.
    package func reservationDevice(_ address: UInt64) -> Int? {
        lock.withLock {
            for (base, v) in reservations where address >= base && address < base + UInt64(v.size) { return v.device }
            return nil
        }
    }

    /// A program-side memory handle: the node's handle with the vGPU in the top byte.
    package static func programHandle(_ handle: UInt64, device: Int) -> UInt64 { UInt64(device & 0xff) << 56 | handle }
    /// The vGPU and node handle of a program-side memory handle.
    package static func nodeHandle(_ handle: UInt64) -> (device: Int, handle: UInt64) { (Int(handle >> 56), handle & 0x00ff_ffff_ffff_ffff) }
}
