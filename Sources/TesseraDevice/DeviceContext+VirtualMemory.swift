import TesseraWire

extension DeviceContext {
    /// Backends that do not offer virtual memory management to programs.
    public func virtualMemory(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64 {
        throw DeviceError(.notSupported, "this GPU backend offers no virtual memory management to programs")
    }
}
