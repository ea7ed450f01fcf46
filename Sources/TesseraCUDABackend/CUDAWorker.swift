#if canImport(Glibc)
import Glibc
#endif
import TesseraDevice
import CTesseraPOSIX
import TesseraWire

/// The worker process of one session on one GPU (`tessera worker`): it loads the CUDA driver, owns one context,
/// and executes the node's requests in order. A fault poisons this process alone; the node ends the session.
public enum CUDAWorker {
    /// Serves the node on ``WorkerProtocol/descriptor`` until it closes; returns the process's exit status.
    /// With `probe`, reports the driver's GPUs (``WorkerInventory``) and exits instead.
    /// With `virtualMemory`, allocations go through virtual memory management, so the node can page them.
    public static func run(driverPath: String, ordinal: Int, probe: Bool, virtualMemory: Bool = false) -> Int32 {
        closeInheritedDescriptors()
        // Stdout is the node's pipe for device printf output: unbuffered, so whatever the driver prints during a
        // synchronisation is in the pipe before the worker replies.
        tessera_unbuffer_stdout()
        let fd = WorkerProtocol.descriptor
        var out = WireWriter(capacity: 1 << 16)
        let driver: CUDADriver
        do throws(DeviceError) {
            driver = try CUDADriver(path: driverPath)
        } catch {
            out.frame(.reply, requestID: 0) { ReplyHeader(status: error.status).encode(into: &$0) }
            _ = send(fd, out.bytes)
            return 1
        }
        if probe {
            let status: ReplyStatus
            var inventory = WorkerInventory(driverVersion: driver.version, gpus: [])
            do throws(DeviceError) {
                inventory.gpus = try Probe(driver: driver).gpus()
                status = .ok
            } catch {
                status = error.status
            }
            out.frame(.reply, requestID: 0) { w in
                ReplyHeader(status: status).encode(into: &w)
                if status.isOK { inventory.encode(into: &w) }
            }
            return send(fd, out.bytes) ? 0 : 1
        }
        let server: WorkerServer
        do throws(DeviceError) {
            server = try WorkerServer(driver: driver, ordinal: ordinal, virtualMemory: virtualMemory)
        } catch {
            out.frame(.reply, requestID: 0) { ReplyHeader(status: error.status).encode(into: &$0) }
            _ = send(fd, out.bytes)
            return 1
        }
        out.frame(.reply, requestID: 0) { ReplyHeader().encode(into: &$0) }
        guard send(fd, out.bytes) else { return 1 }
        return server.serve(fd: fd)
    }

    /// A worker must not keep the node's sockets (clients, listeners) or programs' shared memory open: a
    /// program's hang-up would go unnoticed while its neighbour's worker holds its socket. Other descriptors
    /// (the Swift runtime's own event descriptors among them) stay.
    private static func closeInheritedDescriptors() {
        guard let dir = opendir("/proc/self/fd") else { return }
        var numbers: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let n = Int32(name), n > WorkerProtocol.descriptor { numbers.append(n) }
        }
        closedir(dir)
        for fd in numbers {
            var st = stat()
            guard fstat(fd, &st) == 0 else { continue }
            var target = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/self/fd/\(fd)", &target, 255)
            let link = n > 0 ? String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            if st.st_mode & S_IFMT == S_IFSOCK || link.hasPrefix("/memfd:") { close(fd) }
        }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { sendAll(fd, $0) }
    }
}

/// The GPUs a driver shows, with each one's context overhead measured.
struct Probe {
    let driver: CUDADriver

    func gpus() throws(DeviceError) -> [ProbedGPU] {
        var count: Int32 = 0
        try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
        var result: [ProbedGPU] = []
        for ordinal in 0..<count {
            var device: Int32 = 0
            try driver.check(driver.cuDeviceGet(&device, ordinal), "cuDeviceGet(\(ordinal))")
            result.append(try describe(device, ordinal: Int(ordinal)))
        }
        return result
    }

    private func attribute(_ a: Int32, _ device: Int32) -> Int {
        var v: Int32 = 0
        return driver.cuDeviceGetAttribute(&v, a, device) == 0 ? Int(v) : 0
    }

    private func describe(_ device: Int32, ordinal: Int) throws(DeviceError) -> ProbedGPU {
        var nameBuffer = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&nameBuffer, 255, device), "cuDeviceGetName")
        let name = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var total = 0
        try driver.check(driver.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem")
        var uuid = [UInt8](repeating: 0, count: 16)
        _ = driver.cuDeviceGetUuid(&uuid, device)
        var pci = "0000:00:00.0"
        if let getBus = driver.cuDeviceGetPCIBusId {
            var b = [CChar](repeating: 0, count: 64)
            if getBus(&b, 63, device) == 0 { pci = String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        // CUdevice_attribute values from cuda.h.
        let a = { (n: Int32) in attribute(n, device) }
        let info = VirtualDeviceInfo(
            name: name, uuid: uuid, totalMemory: total, computePercent: 100, physicalIndex: ordinal,
            multiprocessorCount: a(16), computeCapabilityMajor: a(75), computeCapabilityMinor: a(76), clockRateKHz: a(13),
            memoryClockRateKHz: a(36), memoryBusWidth: a(37), l2CacheSize: a(38), warpSize: a(10), maxThreadsPerBlock: a(1),
            maxBlockDim: [a(2), a(3), a(4)], maxGridDim: [a(5), a(6), a(7)], sharedMemoryPerBlock: a(8),
            sharedMemoryPerBlockOptin: a(97), sharedMemoryPerMultiprocessor: a(81), registersPerBlock: a(12),
            registersPerMultiprocessor: a(82), maxThreadsPerMultiprocessor: a(39), maxBlocksPerMultiprocessor: a(106),
            totalConstantMemory: a(9), textureAlignment: a(14), memoryPitch: a(11), pciBusID: a(33))
        let overhead = try overhead(device)
        return ProbedGPU(info: info, pciAddress: pci, contextOverhead: overhead,
                         virtualMemoryGranularity: WorkerVirtualMemory.granularity(driver, device: device) ?? 0)
    }

    /// What a context costs: free memory with one context of ours minus free memory with two (the first one
    /// makes cuMemGetInfo answerable; other processes' allocations in between would count, so take the least of
    /// a few tries).
    private func overhead(_ device: Int32) throws(DeviceError) -> Int {
        var first: OpaquePointer?
        try driver.check(driver.cuCtxCreate(&first, 0, device), "cuCtxCreate")
        defer { _ = driver.cuCtxDestroy(first) }
        var best = Int.max
        for _ in 0..<3 {
            var free1 = 0, free2 = 0, total = 0
            try driver.check(driver.cuMemGetInfo(&free1, &total), "cuMemGetInfo")
            var second: OpaquePointer?
            try driver.check(driver.cuCtxCreate(&second, 0, device), "cuCtxCreate")
            let rc = driver.cuMemGetInfo(&free2, &total)
            _ = driver.cuCtxDestroy(second)
            try driver.check(rc, "cuMemGetInfo")
            best = min(best, max(0, free1 - free2))
        }
        return best
    }
}
