/// What a frame carries. Requests travel client → node; ``reply``, ``fatal`` and ``deviceOutput`` travel node → client.
public enum Opcode: UInt16, Sendable, CaseIterable {
    // Session
    case hello = 1
    case registerHostMemory = 2
    case unregisterHostMemory = 3
    case nodeStatus = 4
    /// Pages out the sessions of a process (`%tessera release`): allowed as the first frame, like ``nodeStatus``.
    case pageOutSessions = 5
    // Memory
    case allocate = 10
    case free = 11
    case memoryInfo = 12
    case copyToDevice = 13
    case copyFromDevice = 14
    case copyOnDevice = 15
    case copy2D = 16
    case memset = 17
    case memset2D = 18
    /// CUDA's virtual memory management (`cuMemAddressReserve`, `cuMemCreate`, `cuMemMap`, …): one
    /// ``VirtualMemoryRequest`` per call, always synchronous.
    case virtualMemory = 19
    // Streams, events, devices
    case createStream = 30
    case destroyStream = 31
    case synchronizeStream = 32
    case queryStream = 33
    case streamWaitEvent = 34
    case createEvent = 40
    case destroyEvent = 41
    case recordEvent = 42
    case synchronizeEvent = 43
    case queryEvent = 44
    case eventElapsedTime = 45
    case synchronizeDevice = 50
    case resetDevice = 51
    /// `cudaDeviceSetLimit` / `cuCtxSetLimit` for the limits the device side honours (pipelined).
    case setLimit = 52
    // Code
    case loadModule = 60
    case launchKernel = 61
    // Node → GPU worker only (a real-GPU node's worker processes; never accepted from a program)
    /// Gives an allocation's physical memory back, keeping its addresses (page-out).
    case evictAllocation = 70
    /// Takes physical memory for an evicted allocation again, at the same addresses (page-in).
    case restoreAllocation = 71
    // Node → client
    case reply = 0x8000
    /// The node ends the session: the body is a ``ReplyStatus`` saying why.
    case fatal = 0x8001
    /// Device `printf` / `assert` output taken at a synchronisation point, sent just before the reply that
    /// ends it: the body is a ``DeviceOutput``.
    case deviceOutput = 0x8002

    /// Whether a client may send this opcode.
    public var isRequest: Bool { rawValue < 0x8000 }
}
