import TesseraDevice
import TesseraWire

/// Mapped (zero-copy) host memory on a real GPU: the session's worker maps the shared-memory file at the
/// program's address, page-locks it for the device (`cuMemHostRegister` with `CU_MEMHOSTREGISTER_DEVICEMAP`)
/// and checks that kernels address it there (unified addressing), so the program's pointer works in its kernels.
extension WorkerContext {
    func mapHostMemory(_ memory: SharedHostMemory, at address: UInt64) throws(DeviceError) {
        guard memory.file >= 0 else { throw DeviceError(.notSupported, "host memory without its shared file cannot be mapped into a GPU worker") }
        try forward { () throws(DeviceError) in
            // The worker names its mapping by the program's address.
            try worker.call(RegisterHostMemory(region: address, size: memory.count, address: address), passing: memory.file)
        }
    }

    /// The worker synchronises its context, unregisters the memory and unmaps it.
    func unmapHostMemory(at address: UInt64) {
        guard !state.withLock({ $0.destroyed }) else { return }
        try? worker.call(UnregisterHostMemory(region: address))
    }
}
