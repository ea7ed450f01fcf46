#if canImport(Glibc)
import Glibc
#endif
import CCudaDriver
import TesseraClientCore
import TesseraWire

/// The driver API's own objects over the client core: contexts, modules, libraries, functions and link
/// states. Handles given to the program are the addresses of these records; every handle the program passes
/// back is looked up in a table before use, so an unknown or stale handle is an error, never a crash.
/// All of it is guarded by the core's lock (taken through ``withState(_:)``), so the core's state and the
/// driver's change together.
final class Driver: @unchecked Sendable {
    static let shared = Driver()
    let core = ClientCore.shared

    /// What cuDriverGetVersion reports: CUDA 13.5, the newest runtime Tessera was checked against.
    static let version: Int32 = 13050

    private(set) var initialized = false
    var contexts: [UInt: Context] = [:]
    var primaryContexts: [Int: Context] = [:]
    var modules: [UInt: Module] = [:]
    var libraries: [UInt: Library] = [:]
    var functions: [UInt: Function] = [:]
    var links: [UInt: LinkState] = [:]
    var streamFlags: [UInt: (flags: UInt32, priority: Int32)] = [:]
    var pools: [Int: UInt] = [:]

    private init() {}

    /// Runs `body` under the core's lock.
    @inline(__always)
    func withState<T>(_ body: () -> T) -> T { core.lock.withLock(body) }

    /// cuInit: opens the session (the vGPU request) so that device queries answer from the grant.
    func initialize() -> Int32 {
        withState {
            if initialized { return CUresult.success }
            switch core.grantedDevices() {
            case .failure(let f): return CUresult.from(f.code)
            case .success:
                initialized = true
                return CUresult.success
            }
        }
    }

    /// The granted devices, or `notInitialized` before cuInit.
    func devices() -> Result<[VirtualDeviceInfo], DriverFailure> {
        withState {
            guard initialized else { return .failure(DriverFailure(CUresult.notInitialized)) }
            return core.grantedDevices().mapError { DriverFailure(CUresult.from($0.code)) }
        }
    }

    /// Checks a device ordinal against the grant.
    func device(_ ordinal: Int32) -> Result<VirtualDeviceInfo, DriverFailure> {
        devices().flatMap { all in
            ordinal >= 0 && Int(ordinal) < all.count ? .success(all[Int(ordinal)]) : .failure(DriverFailure(CUresult.invalidDevice))
        }
    }

    // MARK: Contexts

    /// A context: all contexts of a device share its vGPU (the node's context for it).
    final class Context {
        let device: Int
        let isPrimary: Bool
        var flags: UInt32
        var retainCount = 0
        let id: UInt64
        nonisolated(unsafe) static var nextID: UInt64 = 1

        init(device: Int, isPrimary: Bool, flags: UInt32) {
            self.device = device
            self.isPrimary = isPrimary
            self.flags = flags
            id = Context.nextID
            Context.nextID += 1
        }

        var handle: UInt { UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// The primary context of `device`, created on first use (callers hold the lock).
    func primaryContext(_ device: Int) -> Context {
        if let c = primaryContexts[device] { return c }
        let c = Context(device: device, isPrimary: true, flags: 0)
        primaryContexts[device] = c
        contexts[c.handle] = c
        return c
    }

    /// The calling thread's current context, if any.
    func currentContext() -> Context? {
        guard let top = ThreadState.current.contextStack.last else { return nil }
        return withState { contexts[top] }
    }

    /// Makes the thread's device follow the top of its context stack.
    func contextStackChanged() {
        let ts = ThreadState.current
        if let top = ts.contextStack.last, let c = withState({ contexts[top] }) { ts.device = c.device }
    }

    /// The device of the current context, or the error a call without one gets.
    /// The thread's device follows the top of its context stack (``contextStackChanged()``), so no lookup
    /// is needed on this path, which every call takes.
    @inline(__always)
    func currentDevice() -> Result<Int, DriverFailure> {
        guard initialized else { return .failure(DriverFailure(CUresult.notInitialized)) }
        let ts = ThreadState.current
        guard !ts.contextStack.isEmpty else { return .failure(DriverFailure(CUresult.invalidContext)) }
        return .success(ts.device)
    }

    /// Runs `body` on the current context's device: the driver's prologue before the core's.
    @inline(__always)
    func onCurrentDevice(_ body: (Int) -> Int32) -> Int32 {
        switch currentDevice() {
        case .failure(let f): return f.code
        case .success(let d): return body(d)
        }
    }

    // MARK: Code

    /// A module: an image loaded on one device (the current context's at load time).
    final class Module {
        let record: FatbinRecord
        let device: Int
        /// Set for a library's module on a device (cuLibraryGetModule).
        let library: Library?
        var functions: [String: Function] = [:]
        init(record: FatbinRecord, device: Int, library: Library?) {
            self.record = record
            self.device = device
            self.library = library
        }
        var handle: UInt { UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// A library: an image loaded on each device on first use there, context-independent.
    final class Library {
        let record: FatbinRecord
        var kernels: [String: Function] = [:]
        var modules: [Int: Module] = [:]
        init(record: FatbinRecord) { self.record = record }
        var handle: UInt { UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// A CUfunction (bound to a device) or a CUkernel (`device` nil: the current context's device at use).
    final class Function {
        let reference: KernelReference
        let device: Int?
        weak var module: Module?
        weak var library: Library?
        /// Per device, the function of this kernel there (CUkernel → CUfunction).
        var perDevice: [Int: Function] = [:]
        var maxDynamicSharedBytes: Int?
        init(reference: KernelReference, device: Int?, module: Module?, library: Library?) {
            self.reference = reference
            self.device = device
            self.module = module
            self.library = library
        }
        var handle: UInt { UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// A cuLink* session: PTX inputs collected until cuLinkComplete.
    final class LinkState {
        var inputs: [(name: String, ptx: String)] = []
        var output: UnsafeMutableRawBufferPointer?
        var handle: UInt { UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
        deinit { output?.deallocate() }
    }

    /// What `function` is on `device`: its module handle, index and layout (loading the image there once).
    func resolve(_ function: Function, device: Int) -> Result<ResolvedKernel, DriverFailure> {
        core.resolve(function.reference, device: device).mapError { f in
            DriverFailure(f.code == CUDAError.invalidDeviceFunction ? CUresult.notFound : CUresult.from(f.code))
        }
    }
}

/// A driver call's failure: its `CUresult`.
struct DriverFailure: Error {
    var code: Int32
    init(_ code: Int32) { self.code = code }
}

extension Result where Failure == DriverFailure {
    /// `CUDA_SUCCESS` or the failure's code.
    var code: Int32 {
        switch self {
        case .success: CUresult.success
        case .failure(let f): f.code
        }
    }
}
