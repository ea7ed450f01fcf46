import TesseraWire

/// A physical GPU as a backend describes it.
public struct PhysicalGPU: Sendable, Hashable {
    public var index: Int
    public var name: String
    public var totalMemory: Int
    public var uuid: [UInt8]
    /// The device's properties as a vGPU reports them, before the slice's memory and share are filled in.
    public var template: VirtualDeviceInfo
    /// A simulated GPU: it runs kernels from PTX only, never machine code.
    public var simulated: Bool
    /// Device memory each context on this GPU costs outside any quota (measured at start-up on real GPUs; 0 for
    /// the simulator). Admission counts it for every vGPU it places here.
    public var contextOverhead: Int

    public init(index: Int, name: String, totalMemory: Int, uuid: [UInt8], template: VirtualDeviceInfo, simulated: Bool = false,
                contextOverhead: Int = 0) {
        self.index = index; self.name = name; self.totalMemory = totalMemory; self.uuid = uuid; self.template = template
        self.simulated = simulated; self.contextOverhead = contextOverhead
    }
}

/// What executes device work on a node: simulated GPUs (TesseraSimBackend) or real ones (TesseraCUDABackend).
public protocol DeviceBackend: Sendable {
    /// The node's GPUs, indexed 0…n−1.
    var gpus: [PhysicalGPU] { get }
    /// Bytes allocated on a GPU by all contexts.
    func memoryUsed(gpu: Int) -> Int
    /// Opens an isolated context on a GPU whose allocations may total at most `memoryLimit` bytes and whose
    /// work gets `computePercent` of the GPU's time as `computeMode` says, allocating device addresses from
    /// window `addressWindow` (distinct per node session of one program, so its pointers are unique).
    func makeContext(gpu: Int, memoryLimit: Int, computePercent: Int, computeMode: ComputeMode, addressWindow: Int) throws(DeviceError) -> any DeviceContext
    /// Whether GPU `index` works; the device plugin reports an unhealthy GPU's vGPUs to the kubelet.
    func isHealthy(gpu index: Int) -> Bool
    /// Whether contexts can page their memory out to a ``PageStore`` and back in at the same device addresses
    /// (``DeviceContext/pageOut(to:)``).
    var supportsPaging: Bool { get }
    /// Whether ``DeviceContext/mapHostMemory(_:at:)`` needs the shared-memory file (the driver runs in another
    /// process that maps it itself); otherwise the node closes the file once it has mapped it.
    var mapsHostMemoryFromFile: Bool { get }
}

extension DeviceBackend {
    /// A context in address window 0.
    public func makeContext(gpu: Int, memoryLimit: Int, computePercent: Int, computeMode: ComputeMode) throws(DeviceError) -> any DeviceContext {
        try makeContext(gpu: gpu, memoryLimit: memoryLimit, computePercent: computePercent, computeMode: computeMode, addressWindow: 0)
    }

    /// Backends that cannot fail (the simulator) keep this default: always healthy.
    public func isHealthy(gpu index: Int) -> Bool { true }

    /// Backends that do not implement paging say so; the node then never pages.
    public var supportsPaging: Bool { false }

    /// Backends whose device code runs in the node's process address its mapping of host memory directly.
    public var mapsHostMemoryFromFile: Bool { false }
}

/// Host memory a node shares with a program: the node's own mapping of it and the shared-memory file behind it
/// (a memfd sealed against shrinking). A backend whose device code runs in the node addresses `storage`; one
/// whose driver runs in another process (the CUDA backend's workers) passes `file` there and maps it itself.
public struct SharedHostMemory {
    /// The node's mapping of the file's first `count` bytes.
    public var storage: UnsafeMutableRawPointer
    public var count: Int
    /// The file's descriptor, open while the node shares the memory (the backend does not close it); -1 unless
    /// the backend ``DeviceBackend/mapsHostMemoryFromFile``.
    public var file: Int32

    public init(storage: UnsafeMutableRawPointer, count: Int, file: Int32) {
        self.storage = storage; self.count = count; self.file = file
    }
}

/// A queue of device work in a context.
public protocol DeviceStream: AnyObject, Sendable {
    /// Whether all work queued so far has finished.
    var isIdle: Bool { get }
}

/// A marker recorded in a stream.
public protocol DeviceEvent: AnyObject, Sendable {
    var isComplete: Bool { get }
    func synchronize()
}

/// A kernel of a loaded module.
public protocol DeviceKernel: AnyObject, Sendable {
    var info: KernelInfo { get }
}

/// Code loaded into a context.
public protocol DeviceModule: AnyObject, Sendable {
    var kernels: [any DeviceKernel] { get }
    var variables: [VariableInfo] { get }
}

/// One program's isolated view of a GPU: the operations a session forwards. Copies, memsets, records and
/// launches are queued; the host memory they name must stay valid until the stream passes them.
public protocol DeviceContext: AnyObject, Sendable {
    var memoryInfo: (free: Int, total: Int) { get }
    var memoryUsed: Int { get }
    /// Fraction of the GPU's time this context's work occupied it over the last second (0…1).
    var utilization: Double { get }
    /// Total device time this context's work has used, in nanoseconds.
    var busyNanoseconds: UInt64 { get }
    /// The error that poisoned the context (illegal address, launch failure), if any.
    var stickyError: DeviceError? { get }
    var defaultStream: any DeviceStream { get }

    func allocate(_ size: Int) throws(DeviceError) -> UInt64
    func free(_ address: UInt64) throws(DeviceError)
    func copyToDevice(_ destination: UInt64, from source: UnsafeRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError)
    func copyFromDevice(_ source: UInt64, to destination: UnsafeMutableRawPointer, count: Int, on stream: any DeviceStream) throws(DeviceError)
    func copyOnDevice(_ destination: UInt64, from source: UInt64, count: Int, on stream: any DeviceStream) throws(DeviceError)
    func copy2DOnDevice(_ destination: UInt64, pitch: Int, from source: UInt64, pitch: Int, width: Int, height: Int, on stream: any DeviceStream) throws(DeviceError)
    func memset(_ destination: UInt64, value: UInt8, count: Int, on stream: any DeviceStream) throws(DeviceError)

    func makeStream(nonBlocking: Bool, priority: Int) -> any DeviceStream
    func destroyStream(_ stream: any DeviceStream) throws(DeviceError)
    func makeEvent(timingDisabled: Bool) -> any DeviceEvent
    func record(_ event: any DeviceEvent, on stream: any DeviceStream) throws(DeviceError)
    func wait(_ stream: any DeviceStream, for event: any DeviceEvent) throws(DeviceError)
    func elapsedMilliseconds(from start: any DeviceEvent, to end: any DeviceEvent) throws(DeviceError) -> Float
    func synchronize(_ stream: any DeviceStream) throws(DeviceError)
    func synchronize() throws(DeviceError)

    func loadModule(image: UnsafeRawBufferPointer) throws(DeviceError) -> any DeviceModule
    /// Queues a launch; a `cooperative` one (`cudaLaunchCooperativeKernel`) has all its blocks resident at once
    /// so they may synchronise grid-wide, and fails with `cooperativeLaunchTooLarge` when they cannot be.
    func launch(_ kernel: any DeviceKernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32),
                sharedMemoryBytes: Int, parameters: [UInt8], cooperative: Bool, on stream: any DeviceStream) throws(DeviceError)

    /// Takes the device `printf` output and `assert` messages of the work finished so far (in launch order),
    /// for the session to deliver at a synchronisation point. Backends whose driver prints itself return none.
    func takeDeviceOutput() -> DeviceOutputChunks
    /// `cudaDeviceSetLimit` for limits the device side honours (the printf FIFO size, the stack size).
    func setLimit(_ limit: UInt32, value: Int) throws(DeviceError)
    /// Maps host memory the node shares with the program into the device address space at `address` (the
    /// program's own address of it, as CUDA's unified addressing gives), so kernels use it zero-copy.
    /// Throws `notSupported` where the device cannot address the node's host memory.
    func mapHostMemory(_ memory: SharedHostMemory, at address: UInt64) throws(DeviceError)
    /// Removes a mapping once the work queued so far is done.
    func unmapHostMemory(at address: UInt64)
    /// Shares host memory the node shares with the program (a pinned buffer, the staging area) with the
    /// backend's driver, so copies between a device and `memory.storage`'s range need not carry its bytes (a
    /// backend whose driver runs in another process maps `memory.file` there; see
    /// ``DeviceBackend/mapsHostMemoryFromFile``). Best effort: copies from memory that is not shared still work.
    func shareHostMemory(_ memory: SharedHostMemory) throws(DeviceError)
    /// Stops sharing memory shared by ``shareHostMemory(_:)``; the caller has synchronised the context first.
    func unshareHostMemory(_ memory: SharedHostMemory)
    /// CUDA's virtual memory management on this context (`cuMemAddressReserve`, `cuMemCreate`, `cuMemMap`, …):
    /// returns the operation's value (an address, a handle, flags; 0 when none). Physical memory counts against
    /// the context's quota like an allocation.
    func virtualMemory(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64

    /// Stops running work, waits for queued work and frees everything. Safe to call twice and from any thread.
    func destroy()

    // MARK: Paging (see PageStore.swift for the defaults of backends without it)

    /// Whether the context's memory is paged out (its device addresses are kept, its bytes are in a store).
    var isPagedOut: Bool { get }
    /// Bytes of the context's allocations that occupy device memory now (0 while paged out).
    var residentBytes: Int { get }
    /// Device memory an allocation of `size` bytes occupies (more than `size` where the backend rounds it up).
    func deviceBytes(forAllocationOf size: Int) -> Int
    /// Device memory a page-in takes (0 while resident). It can exceed the bytes allocated where the backend
    /// rounds allocations up (virtual memory management's granularity on real GPUs).
    var pagedOutBytes: Int { get }
    /// Whether any stream of the context has queued or running work; such a context is never paged out.
    var hasWorkInFlight: Bool { get }
    /// Moves every allocation's bytes into `store` and gives the device memory back, keeping the addresses.
    /// All or nothing: on failure the context is unchanged. Throws `notReady` while work is in flight.
    func pageOut(to store: any PageStore) throws(DeviceError) -> PagingTransfer
    /// Takes device memory again and copies the bytes back at the same addresses. Throws `outOfMemory`,
    /// changing nothing, when the device has no room for them.
    func pageIn() throws(DeviceError) -> PagingTransfer
}
