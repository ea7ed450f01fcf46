import TesseraWire

/// `cudaError_t` values the runtime returns, and the one place node statuses become them.
package enum CUDAError {
    package static let success: Int32 = 0
    package static let invalidValue: Int32 = 1
    package static let memoryAllocation: Int32 = 2
    package static let initializationError: Int32 = 3
    package static let invalidConfiguration: Int32 = 9
    package static let invalidPitchValue: Int32 = 12
    package static let invalidSymbol: Int32 = 13
    package static let invalidDevicePointer: Int32 = 17
    package static let invalidMemcpyDirection: Int32 = 21
    package static let insufficientDriver: Int32 = 35
    package static let devicesUnavailable: Int32 = 46
    package static let missingConfiguration: Int32 = 52
    package static let invalidDeviceFunction: Int32 = 98
    package static let noDevice: Int32 = 100
    package static let invalidDevice: Int32 = 101
    package static let invalidKernelImage: Int32 = 200
    package static let noKernelImageForDevice: Int32 = 209
    package static let invalidResourceHandle: Int32 = 400
    package static let symbolNotFound: Int32 = 500
    package static let notReady: Int32 = 600
    package static let illegalAddress: Int32 = 700
    package static let assert: Int32 = 710
    package static let cooperativeLaunchTooLarge: Int32 = 720
    package static let hostMemoryAlreadyRegistered: Int32 = 712
    package static let hostMemoryNotRegistered: Int32 = 713
    package static let launchOutOfResources: Int32 = 701
    package static let launchFailure: Int32 = 719
    package static let notSupported: Int32 = 801
    package static let unknown: Int32 = 999

    /// Maps a node status to `cudaError_t`.
    package static func from(_ code: ReplyStatus.Code) -> Int32 {
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
        case .assertFailed: assert
        case .cooperativeLaunchTooLarge: cooperativeLaunchTooLarge
        default: unknown
        }
    }

    /// Errors that poison the context: every later call returns them.
    package static func isSticky(_ e: Int32) -> Bool { e == illegalAddress || e == launchFailure || e == assert }

    /// `cudaGetErrorName` / `cudaGetErrorString` texts.
    package static func describe(_ e: Int32) -> (name: String, text: String) {
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
        case assert: ("cudaErrorAssert", "device-side assert triggered")
        case cooperativeLaunchTooLarge: ("cudaErrorCooperativeLaunchTooLarge", "too many blocks in cooperative launch")
        case notSupported: ("cudaErrorNotSupported", "operation not supported")
        case unknown: ("cudaErrorUnknown", "unknown error")
        default: ("cudaErrorUnknown", "unrecognized error code")
        }
    }
}
