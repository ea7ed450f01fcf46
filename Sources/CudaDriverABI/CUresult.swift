import TesseraClientCore

/// `CUresult` values the driver face returns, and the one place the core's `cudaError_t` results become them.
enum CUresult {
    static let success: Int32 = 0
    static let invalidValue: Int32 = 1
    static let outOfMemory: Int32 = 2
    static let notInitialized: Int32 = 3
    static let deinitialized: Int32 = 4
    static let deviceUnavailable: Int32 = 46
    static let noDevice: Int32 = 100
    static let invalidDevice: Int32 = 101
    static let invalidImage: Int32 = 200
    static let invalidContext: Int32 = 201
    static let noBinaryForGPU: Int32 = 209
    static let invalidPTX: Int32 = 218
    static let fileNotFound: Int32 = 301
    static let invalidHandle: Int32 = 400
    static let notFound: Int32 = 500
    static let notReady: Int32 = 600
    static let illegalAddress: Int32 = 700
    static let launchOutOfResources: Int32 = 701
    static let primaryContextActive: Int32 = 708
    static let contextIsDestroyed: Int32 = 709
    static let assert: Int32 = 710
    static let hostMemoryAlreadyRegistered: Int32 = 712
    static let hostMemoryNotRegistered: Int32 = 713
    static let launchFailed: Int32 = 719
    static let cooperativeLaunchTooLarge: Int32 = 720
    static let notSupported: Int32 = 801
    static let unknown: Int32 = 999

    /// Maps a core result (`cudaError_t`) to the driver's code for the same condition.
    static func from(_ e: Int32) -> Int32 {
        switch e {
        case CUDAError.success: success
        case CUDAError.invalidValue, CUDAError.invalidConfiguration, CUDAError.invalidPitchValue, CUDAError.invalidDevicePointer,
             CUDAError.invalidMemcpyDirection, CUDAError.missingConfiguration: invalidValue
        case CUDAError.memoryAllocation: outOfMemory
        case CUDAError.initializationError, CUDAError.insufficientDriver: notInitialized
        case CUDAError.invalidSymbol, CUDAError.symbolNotFound, CUDAError.invalidDeviceFunction: notFound
        case CUDAError.devicesUnavailable: deviceUnavailable
        case CUDAError.noDevice: noDevice
        case CUDAError.invalidDevice: invalidDevice
        case CUDAError.invalidKernelImage: invalidImage
        case CUDAError.noKernelImageForDevice: noBinaryForGPU
        case CUDAError.invalidResourceHandle: invalidHandle
        case CUDAError.notReady: notReady
        case CUDAError.illegalAddress: illegalAddress
        case CUDAError.launchOutOfResources: launchOutOfResources
        case CUDAError.launchFailure: launchFailed
        case CUDAError.assert: assert
        case CUDAError.cooperativeLaunchTooLarge: cooperativeLaunchTooLarge
        case CUDAError.notSupported: notSupported
        case CUDAError.hostMemoryAlreadyRegistered: hostMemoryAlreadyRegistered
        case CUDAError.hostMemoryNotRegistered: hostMemoryNotRegistered
        default: unknown
        }
    }

    /// `cuGetErrorName` / `cuGetErrorString` texts.
    static func describe(_ e: Int32) -> (name: String, text: String)? {
        switch e {
        case 0: ("CUDA_SUCCESS", "no error")
        case 1: ("CUDA_ERROR_INVALID_VALUE", "invalid argument")
        case 2: ("CUDA_ERROR_OUT_OF_MEMORY", "out of memory")
        case 3: ("CUDA_ERROR_NOT_INITIALIZED", "initialization error")
        case 4: ("CUDA_ERROR_DEINITIALIZED", "driver shutting down")
        case 46: ("CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable")
        case 100: ("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")
        case 101: ("CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal")
        case 200: ("CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid")
        case 201: ("CUDA_ERROR_INVALID_CONTEXT", "invalid device context")
        case 209: ("CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device")
        case 218: ("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed")
        case 301: ("CUDA_ERROR_FILE_NOT_FOUND", "file not found")
        case 400: ("CUDA_ERROR_INVALID_HANDLE", "invalid resource handle")
        case 500: ("CUDA_ERROR_NOT_FOUND", "named symbol not found")
        case 600: ("CUDA_ERROR_NOT_READY", "device not ready")
        case 700: ("CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered")
        case 701: ("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch")
        case 708: ("CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", "primary context active")
        case 709: ("CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed")
        case 710: ("CUDA_ERROR_ASSERT", "device-side assert triggered")
        case 712: ("CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped")
        case 713: ("CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region")
        case 719: ("CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure")
        case 720: ("CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "too many blocks in cooperative launch")
        case 801: ("CUDA_ERROR_NOT_SUPPORTED", "operation not supported")
        case 999: ("CUDA_ERROR_UNKNOWN", "unknown error")
        default: nil
        }
    }
}
