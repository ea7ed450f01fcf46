import TesseraWire

/// Device-side output a context collected since it was last taken.
public struct DeviceOutputChunks: Sendable, Hashable {
    /// Device `printf` output, for the program's stdout.
    public var printf: [UInt8]
    /// Device `assert` messages, for the program's stderr.
    public var assertMessages: [UInt8]

    public init(printf: [UInt8] = [], assertMessages: [UInt8] = []) {
        self.printf = printf
        self.assertMessages = assertMessages
    }

    public var isEmpty: Bool { printf.isEmpty && assertMessages.isEmpty }
}

extension DeviceContext {
    /// A plain (non-cooperative) launch.
    public func launch(_ kernel: any DeviceKernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32),
                       sharedMemoryBytes: Int, parameters: [UInt8], on stream: any DeviceStream) throws(DeviceError) {
        try launch(kernel, grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes, parameters: parameters,
                   cooperative: false, on: stream)
    }

    /// Backends whose driver writes device output itself have nothing to forward.
    public func takeDeviceOutput() -> DeviceOutputChunks { DeviceOutputChunks() }

    /// Limits a backend does not model are accepted and ignored (they are hints or sizes the driver manages).
    public func setLimit(_ limit: UInt32, value: Int) throws(DeviceError) {}
}

extension DeviceContext {
    /// Backends that cannot address the node's host memory from device code.
    public func mapHostMemory(_ memory: SharedHostMemory, at address: UInt64) throws(DeviceError) {
        throw DeviceError(.notSupported, "this GPU backend cannot map host memory into device code")
    }

    public func unmapHostMemory(at address: UInt64) {}

    /// Backends whose driver runs in the node's process copy from the node's mapping directly: nothing to share.
    public func shareHostMemory(_ memory: SharedHostMemory) throws(DeviceError) {}

    public func unshareHostMemory(_ memory: SharedHostMemory) {}
}
