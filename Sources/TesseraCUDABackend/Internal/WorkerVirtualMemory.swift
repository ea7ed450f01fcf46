import TesseraDevice

/// A worker's allocations made with virtual memory management, so that a page-out can give the physical memory
/// back and a page-in take it again at the same addresses: each allocation is a reservation of its own
/// (`cuMemAddressReserve`) with one physical allocation (`cuMemCreate`) mapped into it (`cuMemMap`,
/// `cuMemSetAccess`), its size rounded up to the device's granularity.
struct WorkerVirtualMemory {
    let driver: CUDADriver
    let functions: CUDADriver.VirtualMemoryFunctions
    let device: Int32
    let granularity: Int

    struct Allocation {
        /// The reservation's (and the physical memory's) size: the requested size rounded up to the granularity.
        var size: Int
        /// The physical memory mapped there; nil while evicted.
        var handle: UInt64?
    }
    private(set) var allocations: [UInt64: Allocation] = [:]

    /// Nil when the driver or the device lacks virtual memory management.
    init?(driver: CUDADriver, device: Int32) {
        guard let functions = driver.virtualMemory, let g = Self.granularity(driver, device: device) else { return nil }
        self.driver = driver
        self.functions = functions
        self.device = device
        self.granularity = g
    }

    /// The device's granularity, or nil without virtual memory management
    /// (`CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED` is attribute 102).
    static func granularity(_ driver: CUDADriver, device: Int32) -> Int? {
        guard let functions = driver.virtualMemory else { return nil }
        var supported: Int32 = 0
        guard driver.cuDeviceGetAttribute(&supported, 102, device) == 0, supported != 0 else { return nil }
        var g = 0
        // CU_MEM_ALLOC_GRANULARITY_MINIMUM = 0.
        let rc = withProperties(device) { functions.granularity(&g, $0, 0) }
        return rc == 0 && g > 0 ? g : nil
    }

    /// A `CUmemAllocationProp` for pinned device memory on `device` (cuda.h layout: type, requested handle
    /// types, location {type, id}, win32 metadata pointer, 8 bytes of flags).
    static func withProperties<T>(_ device: Int32, _ body: (UnsafeRawPointer) -> T) -> T {
        var p = [Int32](repeating: 0, count: 8)
        p[0] = 1  // CU_MEM_ALLOCATION_TYPE_PINNED
        p[2] = 1  // CU_MEM_LOCATION_TYPE_DEVICE
        p[3] = device
        return p.withUnsafeBytes { body($0.baseAddress!) }
    }

    func rounded(_ size: Int) -> Int { (max(size, 1) + granularity - 1) / granularity * granularity }

    mutating func allocate(_ size: Int) throws(DeviceError) -> UInt64 {
        let size = rounded(size)
        var address: UInt64 = 0
        try driver.check(functions.reserve(&address, size, 0, 0, 0), "cuMemAddressReserve(\(size))")
        do throws(DeviceError) {
            let handle = try back(address, size: size)
            allocations[address] = Allocation(size: size, handle: handle)
            return address
        } catch {
            _ = functions.free(address, size)
            throw error
        }
    }

    mutating func free(_ address: UInt64) throws(DeviceError) {
        guard let a = allocations[address] else { throw DeviceError(.invalidValue, "0x\(String(address, radix: 16)) is not an allocation") }
        // As cuMemFree: the work queued so far may still use the memory.
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
        if let handle = a.handle {
            try driver.check(functions.unmap(address, a.size), "cuMemUnmap")
            _ = functions.release(handle)
        }
        allocations[address] = nil
        try driver.check(functions.free(address, a.size), "cuMemAddressFree")
    }

    /// Page-out: unmaps and releases the physical memory, keeping the reservation.
    mutating func evict(_ address: UInt64) throws(DeviceError) {
        guard let a = allocations[address] else { throw DeviceError(.invalidValue, "0x\(String(address, radix: 16)) is not an allocation") }
        guard let handle = a.handle else { return }
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
        try driver.check(functions.unmap(address, a.size), "cuMemUnmap")
        try driver.check(functions.release(handle), "cuMemRelease")
        allocations[address]?.handle = nil
    }

    /// Page-in: new physical memory mapped at the kept addresses (its contents are the node's to copy back).
    mutating func restore(_ address: UInt64) throws(DeviceError) {
        guard let a = allocations[address] else { throw DeviceError(.invalidValue, "0x\(String(address, radix: 16)) is not an allocation") }
        guard a.handle == nil else { return }
        let handle = try back(address, size: a.size)
        allocations[address]?.handle = handle
    }

    /// Creates `size` bytes of physical memory, maps them at `address` and makes them readable and writable.
    private func back(_ address: UInt64, size: Int) throws(DeviceError) -> UInt64 {
        var handle: UInt64 = 0
        try driver.check(Self.withProperties(device) { functions.create(&handle, size, $0, 0) }, "cuMemCreate(\(size))")
        var rc = functions.map(address, size, 0, handle, 0)
        if rc == 0 {
            // CUmemAccessDesc { location {type DEVICE, id}, flags PROT_READWRITE (3) }.
            var access: [Int32] = [1, device, 3]
            rc = access.withUnsafeMutableBytes { functions.setAccess(address, size, $0.baseAddress, 1) }
            if rc != 0 { _ = functions.unmap(address, size) }
        }
        if rc != 0 {
            _ = functions.release(handle)
            try driver.check(rc, "cuMemMap/cuMemSetAccess")
        }
        return handle
    }
}
