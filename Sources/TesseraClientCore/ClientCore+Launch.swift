import TesseraWire

/// Where a launch's parameters come from: one pointer per parameter (CUDA's `void **args`), or a buffer
/// already packed in the kernel's layout (the driver's `CU_LAUNCH_PARAM_BUFFER_POINTER`).
package enum LaunchParameters {
    case pointers(UnsafeMutablePointer<UnsafeMutableRawPointer?>?)
    case packed(UnsafeRawBufferPointer)
}

extension ClientCore {
    /// Queues a launch of `kernel` on `device` (the stream's device when a created stream is given, else the
    /// current device): validated here against the device's limits and the kernel's parameter layout (learned
    /// once, when its module was loaded), parameters packed straight into the outgoing frame, no round trip
    /// except the one-time module load on this device.
    package func launch(_ kernel: KernelReference, grid: Dim3, block: Dim3, parameters source: LaunchParameters,
                        sharedMemory: Int, stream: UInt, device explicitDevice: Int? = nil, cooperative: Bool = false) -> Int32 {
        lock.withLock {
            if case .failure(let f) = connection() { return f.code }
            guard let (streamDevice, handle) = resolveStream(stream) else { return CUDAError.invalidResourceHandle }
            let device = handle == 0 ? (explicitDevice ?? streamDevice) : streamDevice
            guard device >= 0, device < devices.count else { return CUDAError.invalidDevice }
            if let explicitDevice, explicitDevice != device { return CUDAError.invalidResourceHandle }
            let s = sticky(device)
            if s != 0 { return s }
            let threads = Int(block.x) * Int(block.y) * Int(block.z)
            // Fields read in place: a copy of the device's description costs a retain per string and array in it.
            guard grid.x >= 1, grid.y >= 1, grid.z >= 1, block.x >= 1, block.y >= 1, block.z >= 1,
                  Int(grid.x) <= devices[device].maxGridDim[0], Int(grid.y) <= devices[device].maxGridDim[1],
                  Int(grid.z) <= devices[device].maxGridDim[2], Int(block.x) <= devices[device].maxBlockDim[0],
                  Int(block.y) <= devices[device].maxBlockDim[1], Int(block.z) <= devices[device].maxBlockDim[2],
                  threads <= devices[device].maxThreadsPerBlock, sharedMemory >= 0,
                  sharedMemory <= devices[device].sharedMemoryPerBlockOptin
            else { return CUDAError.invalidConfiguration }
            let r: ResolvedKernel
            switch resolve(kernel, device: device) {
            case .success(let x): r = x
            case .failure(let f): return f.code
            }
            guard threads <= r.info.maxThreadsPerBlock else { return CUDAError.invalidConfiguration }
            if cooperative {
                // Every block must be resident at once, as the device's occupancy allows.
                let perMultiprocessor = occupancy(r.info, device: device, blockSize: threads, dynamicSharedMemory: sharedMemory)
                guard Int(grid.x) * Int(grid.y) * Int(grid.z) <= perMultiprocessor * devices[device].multiprocessorCount else {
                    return CUDAError.cooperativeLaunchTooLarge
                }
            }
            let size = r.parameterBufferSize
            if case .packed(let buffer) = source, buffer.count != size {
                Log.debug("\(kernel.name) takes \(size) bytes of parameters, \(buffer.count) given")
                return CUDAError.invalidValue
            }
            let message = LaunchKernel(device: device, module: r.module, kernel: r.index, grid: (grid.x, grid.y, grid.z),
                                       block: (block.x, block.y, block.z), sharedMemoryBytes: sharedMemory, stream: handle,
                                       cooperative: cooperative)
            link(device).post(.launchKernel) { w in
                message.encode(into: &w)
                let start = w.count
                w.zeros(size)
                guard size > 0 else { return }
                w.withUnsafeMutableBytes { b in
                    switch source {
                    case .pointers(let args):
                        guard let args else { return }
                        for (i, p) in r.info.parameters.enumerated() {
                            guard let from = args[i] else { continue }
                            (b.baseAddress! + start + p.offset).copyMemory(from: from, byteCount: p.size)
                        }
                    case .packed(let buffer):
                        (b.baseAddress! + start).copyMemory(from: buffer.baseAddress!, byteCount: size)
                    }
                }
            }
            return 0
        }
    }
}
