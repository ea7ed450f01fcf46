#if canImport(Glibc)
import Glibc
#endif
import TesseraDevice
import TesseraWire

extension WorkerServer {
    /// Host memory the node shares with the program, mapped in this worker: at the program's address (mapped,
    /// zero-copy memory), or wherever the kernel put it (a region copies use).
    struct HostMapping {
        var base: UnsafeMutableRawPointer
        var size: Int
        /// The shared-memory file, open while mapped (a driver that shares the pages further finds it here).
        var file: Int32
        /// Whether the driver page-locked it (`cuMemHostRegister`); copies from an unregistered one are pageable.
        var registered = true
    }

    /// Maps the shared-memory file `file` (taken over: closed on failure) of a region the node's copies name by
    /// `m.region`, anywhere in this process, and page-locks it for the device (`PORTABLE | DEVICEMAP`: Tessera's
    /// own driver then shares the pages with its node in turn, so a stacked copy is zero-copy too). When the
    /// driver cannot register it, copies still go from the mapping (pageable).
    func mapCopyRegion(_ m: RegisterHostMemory, file: Int32) throws(DeviceError) {
        var kept = false
        defer { if !kept { close(file) } }
        guard m.size > 0, hostMappings[m.region] == nil else {
            throw DeviceError(.invalidValue, "host region \(m.region) (\(m.size) bytes) cannot be mapped")
        }
        let p = mmap(nil, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
        guard let p, p != MAP_FAILED else {
            throw DeviceError(.outOfMemory, "the GPU worker cannot map \(m.size) bytes of host memory: \(String(cString: strerror(errno)))")
        }
        // CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP.
        let registered = driver.hostMemory.map { $0.register(p, m.size, 0x01 | 0x02) == 0 } ?? false
        hostMappings[m.region] = HostMapping(base: p, size: m.size, file: file, registered: registered)
        kept = true
    }

    /// [offset, offset + count) of the host memory the node named `region`, in this worker's mapping.
    func hostRange(_ region: UInt64, offset: Int, count: Int) throws(DeviceError) -> UnsafeMutableRawPointer {
        guard let mapping = hostMappings[region] else { throw DeviceError(.invalidValue, "no host region \(region) in the GPU worker") }
        guard offset >= 0, count >= 0, offset <= mapping.size, count <= mapping.size - offset else {
            throw DeviceError(.invalidValue, "range \(offset)+\(count) lies outside the \(mapping.size)-byte host region")
        }
        return mapping.base + offset
    }

    /// Maps the shared-memory file `file` (taken over: closed on failure) at `address`, the program's own address
    /// of it, and registers it with the driver for device access at that same address. Fails, leaving nothing
    /// behind, when this process already uses the address or the driver would give kernels another one.
    func mapHostMemory(_ m: RegisterHostMemory, file: Int32) throws(DeviceError) {
        var mapped = false
        defer { if !mapped { close(file) } }
        guard let f = driver.hostMemory else {
            throw DeviceError(.notSupported, "the CUDA driver lacks cuMemHostRegister/cuMemHostGetDevicePointer")
        }
        guard m.address != 0, m.size > 0, hostMappings[m.address] == nil,
              let wanted = UnsafeMutableRawPointer(bitPattern: UInt(m.address)) else {
            throw DeviceError(.invalidValue, "host memory at 0x\(String(m.address, radix: 16)) (\(m.size) bytes) cannot be mapped")
        }
        // MAP_FIXED_NOREPLACE (Linux 4.17): never replaces a mapping of this process; older kernels take it as a
        // hint, so the address is checked too.
        let p = mmap(wanted, m.size, PROT_READ | PROT_WRITE, MAP_SHARED | Self.mapFixedNoReplace, file, 0)
        guard let p, p != MAP_FAILED else {
            throw DeviceError(.notSupported, "the GPU worker cannot map host memory at 0x\(String(m.address, radix: 16)): \(String(cString: strerror(errno)))")
        }
        guard p == wanted else {
            munmap(p, m.size)
            throw DeviceError(.notSupported, "the GPU worker cannot map host memory at 0x\(String(m.address, radix: 16)): the address is taken")
        }
        do throws(DeviceError) {
            // CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP.
            try driver.check(f.register(p, m.size, 0x01 | 0x02), "cuMemHostRegister")
            var device: UInt64 = 0
            let rc = f.devicePointer(&device, p, 0)
            guard rc == 0, device == m.address else {
                _ = f.unregister(p)
                try driver.check(rc, "cuMemHostGetDevicePointer")
                throw DeviceError(.notSupported, "the GPU addresses mapped host memory at 0x\(String(device, radix: 16)), not at the program's 0x\(String(m.address, radix: 16))")
            }
        } catch {
            munmap(p, m.size)
            throw error
        }
        mapped = true
        hostMappings[m.address] = HostMapping(base: p, size: m.size, file: file)
    }

    /// Waits for the context's work (kernels and copies may still use the memory), unregisters and unmaps it.
    func unmapHostMemory(at address: UInt64) throws(DeviceError) {
        guard let mapping = hostMappings.removeValue(forKey: address) else {
            throw DeviceError(.invalidValue, "no host memory mapped at 0x\(String(address, radix: 16))")
        }
        let p = mapping.base
        defer {
            munmap(p, mapping.size)
            close(mapping.file)
        }
        let synchronized = driver.cuCtxSynchronize()
        if mapping.registered, let f = driver.hostMemory { try driver.check(f.unregister(p), "cuMemHostUnregister") }
        try driver.check(synchronized, "cuCtxSynchronize")
    }

    /// Linux's MAP_FIXED_NOREPLACE.
    static let mapFixedNoReplace: Int32 = 0x100000
}
