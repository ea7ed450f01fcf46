import TesseraDevice
import TesseraWire

extension WorkerServer {
    /// A program's own virtual memory management call (`cuMemCreate`, `cuMemMap`, …), executed by the driver on
    /// this worker's device. The node has checked the quota; handles and addresses are the driver's.
    func programVirtualMemory(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64 {
        guard let f = driver.virtualMemory, let g = WorkerVirtualMemory.granularity(driver, device: device) else {
            throw DeviceError(.notSupported, "the CUDA driver lacks virtual memory management")
        }
        let d = driver
        switch operation {
        case .granularity:
            return UInt64(g)
        case let .reserve(size, alignment, hint):
            var address: UInt64 = 0
            try d.check(f.reserve(&address, size, alignment, hint, 0), "cuMemAddressReserve")
            return address
        case let .free(address, size):
            try d.check(f.free(address, size), "cuMemAddressFree")
        case let .create(size):
            var handle: UInt64 = 0
            try d.check(WorkerVirtualMemory.withProperties(device) { f.create(&handle, size, $0, 0) }, "cuMemCreate")
            return handle
        case let .release(handle):
            try d.check(f.release(handle), "cuMemRelease")
        case let .map(address, size, offset, handle):
            try d.check(f.map(address, size, offset, handle, 0), "cuMemMap")
        case let .unmap(address, size):
            try d.check(f.unmap(address, size), "cuMemUnmap")
        case let .setAccess(address, size, flags):
            var access: [Int32] = [1, device, Int32(bitPattern: flags)]
            try d.check(access.withUnsafeMutableBytes { f.setAccess(address, size, $0.baseAddress, 1) }, "cuMemSetAccess")
        case let .getAccess(address):
            guard let get = d.cuMemGetAccess else { throw DeviceError(.notSupported, "the CUDA driver lacks cuMemGetAccess") }
            var location: [Int32] = [1, device]
            var flags: UInt64 = 0
            try d.check(location.withUnsafeMutableBytes { get(&flags, $0.baseAddress, address) }, "cuMemGetAccess")
            return flags
        case let .retain(address):
            guard let retain = d.cuMemRetainAllocationHandle else {
                throw DeviceError(.notSupported, "the CUDA driver lacks cuMemRetainAllocationHandle")
            }
            var handle: UInt64 = 0
            try d.check(retain(&handle, UnsafeMutableRawPointer(bitPattern: UInt(address))), "cuMemRetainAllocationHandle")
            return handle
        }
        return 0
    }
}
