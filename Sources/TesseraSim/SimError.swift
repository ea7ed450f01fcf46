/// An error of the simulated GPU: a small, extensible set of codes plus a human-readable message.
///
/// The runtime boundary maps codes to CUDA error numbers in one place; see ``SimError/Code``.
public struct SimError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// An argument is out of range or malformed (cudaErrorInvalidValue).
        public static let invalidValue = Code("invalidValue")
        /// Not enough device memory, or the context's memory limit would be exceeded (cudaErrorMemoryAllocation).
        public static let outOfMemory = Code("outOfMemory")
        /// A kernel or copy touched memory outside the context's live allocations (cudaErrorIllegalAddress). Sticky.
        public static let illegalAddress = Code("illegalAddress")
        /// A kernel executed a trap, misaligned access or other fatal condition (cudaErrorLaunchFailure). Sticky.
        public static let launchFailure = Code("launchFailure")
        /// Grid, block or shared-memory configuration not allowed by the device (cudaErrorInvalidConfiguration).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A fatbinary or PTX image could not be read (cudaErrorInvalidKernelImage).
        public static let invalidImage = Code("invalidImage")
        /// The image has no PTX this device can run (cudaErrorNoKernelImageForDevice).
        public static let noKernelImage = Code("noKernelImage")
        /// A feature or instruction the simulator does not implement (cudaErrorNotSupported).
        public static let notSupported = Code("notSupported")
        /// A kernel or symbol name that the module does not define (cudaErrorInvalidSymbol / cudaErrorInvalidDeviceFunction).
        public static let notFound = Code("notFound")
        /// A handle (stream, event, module, pointer) that is not live in this context (cudaErrorInvalidResourceHandle).
        public static let invalidHandle = Code("invalidHandle")
        /// A kernel's device-side `assert` failed (cudaErrorAssert, 710). Sticky.
        public static let assertFailed = Code("assertFailed")
        /// A cooperative launch has more blocks than the device can keep resident at once
        /// (cudaErrorCooperativeLaunchTooLarge, 720).
        public static let cooperativeLaunchTooLarge = Code("cooperativeLaunchTooLarge")
        /// Work not yet complete (cudaErrorNotReady); returned by queries, never sticky.
        public static let notReady = Code("notReady")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// Whether this error poisons its context until the context is destroyed, as CUDA's do.
    public var isSticky: Bool { code == .illegalAddress || code == .launchFailure || code == .assertFailed }
}
