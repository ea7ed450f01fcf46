#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// NVIDIA's management library, loaded with `dlopen` when present: temperature, power, memory and health
/// (uncorrected ECC errors, critical Xid events, a GPU that fell off the bus). Absent NVML, the node's inventory
/// comes from the driver API alone and every GPU counts as healthy.
public final class NVML: @unchecked Sendable {
    public static let defaultPath = "libnvidia-ml.so.1"

    typealias Ret = Int32
    typealias FInit = @convention(c) () -> Ret
    typealias FHandleByPci = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> Ret
    typealias FTemperature = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<UInt32>?) -> Ret
    typealias FPower = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>?) -> Ret
    typealias FMemory = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Ret
    typealias FEcc = @convention(c) (OpaquePointer?, Int32, Int32, UnsafeMutablePointer<UInt64>?) -> Ret
    typealias FEventSetCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Ret
    typealias FRegisterEvents = @convention(c) (OpaquePointer?, UInt64, OpaquePointer?) -> Ret
    typealias FEventSetWait = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UInt32) -> Ret

    let handleByPci: FHandleByPci
    let temperature: FTemperature?
    let power: FPower?
    let memory: FMemory?
    let ecc: FEcc?
    let eventSetWait: FEventSetWait?
    let eventSet: OpaquePointer?
    /// Bus ids of GPUs a critical Xid marked unhealthy, for good (a node restart clears it, as with the device
    /// plugin NVIDIA ships).
    private let failed = Mutex<Set<String>>([])

    /// What NVML says of one GPU now.
    public struct Telemetry: Sendable, Hashable {
        public var temperatureC: Int
        public var powerMilliwatts: Int
        public var memoryTotal: Int
        public var memoryUsed: Int
    }

    /// Nil when the library does not load or initialise.
    public init?(path: String = NVML.defaultPath) {
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<F>(_ name: String, _ t: F.Type) -> F? { dlsym(h, name).map { unsafeBitCast($0, to: t) } }
        guard let initialise = symbol("nvmlInit_v2", FInit.self), initialise() == 0,
              let byPci = symbol("nvmlDeviceGetHandleByPciBusId_v2", FHandleByPci.self) else { return nil }
        handleByPci = byPci
        temperature = symbol("nvmlDeviceGetTemperature", FTemperature.self)
        power = symbol("nvmlDeviceGetPowerUsage", FPower.self)
        memory = symbol("nvmlDeviceGetMemoryInfo", FMemory.self)
        ecc = symbol("nvmlDeviceGetTotalEccErrors", FEcc.self)
        eventSetWait = symbol("nvmlEventSetWait_v2", FEventSetWait.self)
        var set: OpaquePointer?
        if let create = symbol("nvmlEventSetCreate", FEventSetCreate.self), create(&set) != 0 { set = nil }
        eventSet = set
        if let set, let register = symbol("nvmlDeviceRegisterEvents", FRegisterEvents.self),
           let count = symbol("nvmlDeviceGetCount_v2", (@convention(c) (UnsafeMutablePointer<UInt32>?) -> Ret).self),
           let byIndex = symbol("nvmlDeviceGetHandleByIndex_v2", (@convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Ret).self) {
            var n: UInt32 = 0
            if count(&n) == 0 {
                for i in 0..<n {
                    var d: OpaquePointer?
                    // nvmlEventTypeXidCriticalError = 0x8.
                    if byIndex(i, &d) == 0 { _ = register(d, 0x8, set) }
                }
            }
        }
    }

    private func device(_ pciAddress: String) -> (OpaquePointer?, Ret) {
        var d: OpaquePointer?
        let rc = handleByPci(pciAddress, &d)
        return (d, rc)
    }

    public func telemetry(pciAddress: String) -> Telemetry? {
        let (d, rc) = device(pciAddress)
        guard rc == 0 else { return nil }
        var t = Telemetry(temperatureC: 0, powerMilliwatts: 0, memoryTotal: 0, memoryUsed: 0)
        var v: UInt32 = 0
        if let temperature, temperature(d, 0, &v) == 0 { t.temperatureC = Int(v) }  // NVML_TEMPERATURE_GPU
        if let power, power(d, &v) == 0 { t.powerMilliwatts = Int(v) }
        // nvmlMemory_t: total, free, used (unsigned long long each).
        var m: (UInt64, UInt64, UInt64) = (0, 0, 0)
        if let memory, memory(d, &m) == 0 { t.memoryTotal = Int(m.0); t.memoryUsed = Int(m.2) }
        return t
    }

    /// False when NVML cannot reach the GPU, it reports uncorrected ECC errors since boot of the driver, or a
    /// critical Xid other than an application's own fault (13, 31, 43, 45, 68, 109) was seen on it.
    public func isHealthy(pciAddress: String) -> Bool {
        drainEvents()
        if failed.withLock({ $0.contains(pciAddress.lowercased()) }) { return false }
        let (d, rc) = device(pciAddress)
        // NVML_ERROR_GPU_IS_LOST = 15; "not found" after start-up means the same.
        guard rc == 0 else { return false }
        var errors: UInt64 = 0
        // NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1, NVML_VOLATILE_ECC = 0; GPUs without ECC answer "not supported".
        if let ecc, ecc(d, 1, 0, &errors) == 0, errors > 0 { return false }
        return true
    }

    private func drainEvents() {
        guard let eventSet, let eventSetWait else { return }
        // nvmlEventData_t: device handle, eventType (u64), eventData (u64, the Xid), gpuInstanceId, computeInstanceId.
        var data = (OpaquePointer?.none, UInt64(0), UInt64(0), UInt32(0), UInt32(0))
        while eventSetWait(eventSet, &data, 0) == 0 {
            let xid = data.2
            if [13, 31, 43, 45, 68, 109].contains(xid) { continue }
            // The event names the device by handle: find which watched bus id it is.
            let hit = knownAddresses.filter { device($0).0 == data.0 }
            failed.withLock { f in for a in hit { f.insert(a.lowercased()) } }
        }
    }

    /// Bus ids the node asked about (the GPUs it serves).
    private var knownAddresses: [String] { addresses.withLock { Array($0) } }
    private let addresses = Mutex<Set<String>>([])

    /// Tells NVML which GPUs to watch for Xid events.
    public func watch(_ pciAddress: String) { addresses.withLock { _ = $0.insert(pciAddress) } }
}
