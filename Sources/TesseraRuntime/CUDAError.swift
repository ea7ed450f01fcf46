import TesseraWire

/// `cudaError_t` values the runtime returns, and the one place node statuses become them.
enum CUDAError {
    static let success: Int32 = 0
    static let invalidValue: Int32 = 1
    static let memoryAllocation: Int32 = 2
    static let initializationError: Int32 = 3
    static let invalidConfiguration: Int32 = 9
    static let invalidPitchValue: Int32 = 12
    static let invalidSymbol: Int32 = 13
    static let invalidDevicePointer: Int32 = 17
    static let invalidMemcpyDirection: Int32 = 21
    static let insufficientDriver: Int32 = 35
    static let devicesUnavailable: Int32 = 46
    static let missingConfiguration: Int32 = 52
    static let invalidDeviceFunction: Int32 = 98
    static let noDevice: Int32 = 100
    static let invalidDevice: Int32 = 101
    static let invalidKernelImage: Int32 = 200
    static let noKernelImageForDevice: Int32 = 209
    static let invalidResourceHandle: Int32 = 400
    static let symbolNotFound: Int32 = 500
    static let notReady: Int32 = 600
    static let illegalAddress: Int32 = 700
    static let launchOutOfResources: Int32 = 701
    static let launchFailure: Int32 = 719
    static let notSupported: Int32 = 801
    static let unknown: Int32 = 999

    /// Maps a node status to `cudaError_t`.
    static func from(_ code: ReplyStatus.Code) -> Int32 {
        switch code {
        case .ok: success
        case .invalidValue: invalidValue
        case .outOfMemory: memoryAllocation
        case .illegalAddress: illegalAddress
        case .launchFailure: launchFailure
        case .invalidConfiguration: invalidConfiguration
        case .invalidImage: invalidKernelImage
        case .noKernelImage: noKernelImageForDevice
        case .notSupported: notSupported
        case .notFound: invalidDeviceFunction
        case .invalidHandle: invalidResourceHandle
        case .notReady: notReady
        case .invalidDevice: invalidDevice
        case .unavailable: devicesUnavailable
        default: unknown
        }
    }

    /// Errors that poison the context: every later call returns them.
    static func isSticky(_ e: Int32) -> Bool { e == illegalAddress || e == launchFailure }

    /// `cudaGetErrorName` / `cudaGetErrorString` texts.
    static func describe(_ e: Int32) -> (name: String, text: String) {
        switch e {
        case success: ("cudaSuccess", "no error")
        case invalidValue: ("cudaErrorInvalidValue", "invalid argument")
        case memoryAllocation: ("cudaErrorMemoryAllocation", "out of memory")
        case initializationError: ("cudaErrorInitializationError", "initialization error")
        case invalidConfiguration: ("cudaErrorInvalidConfiguration", "invalid configuration argument")
        case invalidPitchValue: ("cudaErrorInvalidPitchValue", "invalid pitch argument")
        case invalidSymbol: ("cudaErrorInvalidSymbol", "invalid device symbol")
        case invalidDevicePointer: ("cudaErrorInvalidDevicePointer", "invalid device pointer")
        case invalidMemcpyDirection: ("cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy")
        case insufficientDriver: ("cudaErrorInsufficientDriver", "CUDA driver version is insufficient for CUDA runtime version")
        case devicesUnavailable: ("cudaErrorDevicesUnavailable", "CUDA-capable device(s) is/are busy or unavailable")
        case missingConfiguration: ("cudaErrorMissingConfiguration", "__global__ function call is not configured")
        case invalidDeviceFunction: ("cudaErrorInvalidDeviceFunction", "invalid device function")
        case noDevice: ("cudaErrorNoDevice", "no CUDA-capable device is detected")
        case invalidDevice: ("cudaErrorInvalidDevice", "invalid device ordinal")
        case invalidKernelImage: ("cudaErrorInvalidKernelImage", "device kernel image is invalid")
        case noKernelImageForDevice: ("cudaErrorNoKernelImageForDevice", "no kernel image is available for execution on the device")
        case invalidResourceHandle: ("cudaErrorInvalidResourceHandle", "invalid resource handle")
        case symbolNotFound: ("cudaErrorSymbolNotFound", "named symbol not found")
        case notReady: ("cudaErrorNotReady", "device not ready")
        case illegalAddress: ("cudaErrorIllegalAddress", "an illegal memory access was encountered")
        case launchOutOfResources: ("cudaErrorLaunchOutOfResources", "too many resources requested for launch")
        case launchFailure: ("cudaErrorLaunchFailure", "unspecified launch failure")
        case notSupported: ("cudaErrorNotSupported", "operation not supported")
        case unknown: ("cudaErrorUnknown", "unknown error")
        default: ("cudaErrorUnknown", "unrecognized error code")
        }
    }
}
