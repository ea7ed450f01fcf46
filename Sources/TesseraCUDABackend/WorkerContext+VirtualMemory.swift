import TesseraDevice
import TesseraWire

/// A program's own virtual memory management on a real GPU: the worker calls the driver, and the node counts
/// the physical memory (`cuMemCreate`) against the vGPU's quota, exactly, until it is released and unmapped.
extension WorkerContext {
    /// Memory the program made with `cuMemCreate`: references (create, retain) and mappings keep it.
    struct ProgramMemory {
        var size: Int
        var references = 1
        var mappings = 0
    }

    func virtualMemory(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64 {
        guard virtualMemoryGranularity != nil else {
            throw DeviceError(.notSupported, "this GPU's driver lacks virtual memory management")
        }
        if case let .create(size) = operation {
            guard size > 0 else { throw DeviceError(.invalidValue, "cuMemCreate of \(size) bytes") }
            try state.withLock { (s) throws(DeviceError) in
                guard s.used + size <= memoryLimit else {
                    throw DeviceError(.outOfMemory, "cuMemCreate of \(size) bytes exceeds the vGPU's \(memoryLimit) bytes (\(s.used) in use)")
                }
                s.used += size
                s.physical += size
            }
            do throws(DeviceError) {
                let handle = try call(operation)
                state.withLock { $0.programMemory[handle] = ProgramMemory(size: size) }
                return handle
            } catch {
                state.withLock {
                    $0.used -= size
                    $0.physical -= size
                }
                throw error
            }
        }
        let value = try call(operation)
        state.withLock { s in
            switch operation {
            case let .release(handle):
                s.programMemory[handle]?.references -= 1
                s.settle(handle)
            case .retain:
                s.programMemory[value]?.references += 1
            case let .map(address, size, _, handle):
                s.programMappings[address] = (size, handle)
                s.programMemory[handle]?.mappings += 1
            case let .unmap(address, size):
                let end = address &+ UInt64(size)
                for (base, m) in s.programMappings where base >= address && base < end {
                    s.programMappings[base] = nil
                    s.programMemory[m.handle]?.mappings -= 1
                    s.settle(m.handle)
                }
            default:
                break
            }
        }
        return value
    }

    private func call(_ operation: VirtualMemoryOperation) throws(DeviceError) -> UInt64 {
        try forward { () throws(DeviceError) in
            try worker.call(.virtualMemory, { VirtualMemoryRequest(device: 0, operation: operation).encode(into: &$0) },
                            reply: { (r) throws(WireError) in try VirtualMemoryReply(from: &r).value })
        }
    }
}

extension WorkerContext.State {
    /// Gives a program's memory back to the quota once nothing references or maps it.
    mutating func settle(_ handle: UInt64) {
        guard let m = programMemory[handle], m.references <= 0, m.mappings <= 0 else { return }
        programMemory[handle] = nil
        used -= m.size
        physical -= m.size
    }
}
