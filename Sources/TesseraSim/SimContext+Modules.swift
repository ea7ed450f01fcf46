import Dispatch

extension SimContext {
    /// Loads a module from a fatbinary container (magic 0xBA55ED50) or from PTX text.
    public func loadModule(image: UnsafeRawBufferPointer) throws(SimError) -> SimModule {
        if image.count >= 4, image.loadUnaligned(as: UInt32.self) == 0xBA55_ED50 {
            return try loadModule(ptx: Fatbinary.ptx(fromContainer: image, smVersion: device.properties.smVersion))
        }
        if image.count >= 4, image.loadUnaligned(as: UInt32.self) == 0x464C_457F {
            throw SimError(.noKernelImage, "an ELF cubin holds machine code only; the simulated GPU runs PTX")
        }
        // PTX text, possibly NUL-terminated.
        let end = image.firstIndex(of: 0) ?? image.count
        return try loadModule(ptx: String(decoding: image[..<end], as: UTF8.self))
    }

    /// Loads a module from a fatbinary container or PTX text held in an array.
    public func loadModule(image: [UInt8]) throws(SimError) -> SimModule {
        let result = image.withUnsafeBytes { b in Result { () throws(SimError) in try loadModule(image: b) } }
        return try result.get()
    }

    /// Parses, checks and links PTX text into this context: allocates and initializes its module-scope variables.
    public func loadModule(ptx: String) throws(SimError) -> SimModule {
        // PTX of any target is accepted: the simulator interprets the portable ISA, and an instruction it does not
        // implement fails the load by name (newer PTX is what libraries like CuPy's CUB ship).
        let parsed = try PTXParser.parse(ptx)
        // Module-scope global and constant variables become allocations of this context.
        var variables: [String: ModuleVariable] = [:]
        var created: [UInt64] = []
        do throws(SimError) {
            for v in parsed.variables where v.space == .global || v.space == .const {
                let address = try allocate(v.size)
                created.append(address)
                if !v.initializer.isEmpty {
                    let p = try checkedPointer(address, v.initializer.count, "variable")
                    v.initializer.withUnsafeBytes { p.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                }
                variables[v.name] = ModuleVariable(name: v.name, address: address, size: v.size, isConstant: v.space == .const)
            }
            // Initializers may hold addresses of other variables (`.global .u64 p = x;`).
            for v in parsed.variables where !v.addressInitializers.isEmpty {
                guard let me = variables[v.name] else { continue }
                for (offset, symbol) in v.addressInitializers {
                    guard let target = variables[symbol] else {
                        throw SimError(.invalidImage, "initializer of '\(v.name)' refers to unknown symbol '\(symbol)'")
                    }
                    let p = try checkedPointer(me.address + UInt64(offset), 8, "variable")
                    p.pointer.storeBytes(of: target.address, toByteOffset: 0, as: UInt64.self)
                }
            }
            let constantBytes = parsed.variables.filter { $0.space == .const }.reduce(0) { $0 + $1.size }
            var kernels: [String: SimKernel] = [:]
            let builder = ProgramBuilder(module: parsed, symbols: variables.mapValues(\.address), device: device.properties)
            for entry in parsed.functions where entry.isEntry {
                let program = try builder.build(entry: entry)
                let maxThreads = entry.maxThreadsPerBlock ?? device.properties.maxThreadsPerBlock
                let attributes = KernelAttributes(
                    staticSharedBytes: program.staticSharedBytes,
                    localBytesPerThread: program.localBytesPerThread,
                    constantBytes: constantBytes,
                    registersPerThread: Self.registersPerThread(declared: program.declaredRegisterCount, maxThreads: maxThreads,
                                                                device: device.properties),
                    maxThreadsPerBlock: maxThreads,
                    ptxVersion: parsed.target,
                    binaryVersion: parsed.target
                )
                kernels[entry.name] = SimKernel(name: entry.name, parameters: program.parameters, attributes: attributes, program: program)
            }
            return SimModule(kernels: kernels, variables: variables)
        } catch {
            for a in created { try? free(a) }
            throw error
        }
    }

    /// Registers per thread as a compiler would allocate them: the PTX's declared (virtual) registers, capped
    /// so that a block of the kernel's largest size fits one multiprocessor — ptxas honours launch bounds
    /// (`.maxntid`) this way, and without the cap occupancy queries answer 0 blocks, which libraries such as
    /// CUB divide by.
    static func registersPerThread(declared: Int, maxThreads: Int, device p: DeviceProperties) -> Int {
        let threads = max(1, (maxThreads + p.warpSize - 1) / p.warpSize * p.warpSize)
        let fit = p.registersPerMultiprocessor / threads / 8 * 8  // allocated in units of 8 per thread
        return max(16, min(255, declared, fit))
    }

    /// How many blocks of `kernel` one multiprocessor keeps resident at once
    /// (`cudaOccupancyMaxActiveBlocksPerMultiprocessor`): limited by threads, blocks, registers and shared
    /// memory per multiprocessor.
    public func maxActiveBlocksPerMultiprocessor(_ kernel: SimKernel, blockSize: Int, dynamicSharedBytes: Int = 0) -> Int {
        let p = device.properties
        guard blockSize > 0, blockSize <= min(p.maxThreadsPerBlock, kernel.attributes.maxThreadsPerBlock) else { return 0 }
        let warps = (blockSize + p.warpSize - 1) / p.warpSize
        var blocks = min(p.maxBlocksPerMultiprocessor, p.maxThreadsPerMultiprocessor / (warps * p.warpSize))
        let registers = kernel.attributes.registersPerThread * warps * p.warpSize
        if registers > 0 { blocks = min(blocks, p.registersPerMultiprocessor / registers) }
        let shared = kernel.attributes.staticSharedBytes + dynamicSharedBytes + BlockExecutor.reservedSharedBytes
        blocks = min(blocks, p.sharedMemoryPerMultiprocessor / shared)
        return max(0, blocks)
    }

    /// The context's cooperative-launch grid workspace, allocated on first use.
    func gridWorkspace() throws(SimError) -> UInt64 {
        if let a = state.withLock({ $0.gridWorkspace }) { return a }
        let a = try allocate(64)
        return state.withLock { s in
            if let existing = s.gridWorkspace { return existing }  // another thread won; ours stays allocated
            s.gridWorkspace = a
            return a
        }
    }

    /// Frees a module's variables. Kernels of the module must not be launched afterwards.
    public func unloadModule(_ module: SimModule) {
        for v in module.variables.values { try? free(v.address) }
    }

    /// Queues a kernel launch. Configuration errors are thrown now; faults during execution become the
    /// context's sticky error and surface at the next synchronization.
    /// - Parameter parameters: the packed parameter buffer (see ``SimKernel/packParameters(_:)``).
    /// - Parameter cooperative: a cooperative launch (`cudaLaunchCooperativeKernel`): all blocks run
    ///   concurrently so that grid-wide synchronisation (`this_grid().sync()`) completes; the grid may have at
    ///   most ``maxActiveBlocksPerMultiprocessor(_:blockSize:dynamicSharedBytes:)`` × multiprocessors blocks.
    public func launch(
        _ kernel: SimKernel, grid: Dim3, block: Dim3, sharedMemoryBytes: Int = 0,
        parameters: [UInt8], on stream: SimStream? = nil, cooperative: Bool = false
    ) throws(SimError) {
        // Fields read straight from the device's properties: a copy of the whole struct costs retains per launch.
        let gpu = device
        guard grid.x >= 1, grid.y >= 1, grid.z >= 1, block.x >= 1, block.y >= 1, block.z >= 1,
              Int(grid.x) <= gpu.properties.maxGridDimX, Int(grid.y) <= gpu.properties.maxGridDimY,
              Int(grid.z) <= gpu.properties.maxGridDimZ, Int(block.x) <= gpu.properties.maxBlockDimX,
              Int(block.y) <= gpu.properties.maxBlockDimY, Int(block.z) <= gpu.properties.maxBlockDimZ,
              block.count <= min(gpu.properties.maxThreadsPerBlock, kernel.attributes.maxThreadsPerBlock)
        else {
            throw SimError(.invalidConfiguration, "launch of \(kernel.name) with grid \(grid) and block \(block) exceeds the device limits")
        }
        guard sharedMemoryBytes >= 0, kernel.attributes.staticSharedBytes + sharedMemoryBytes <= gpu.properties.sharedMemoryPerBlockOptin else {
            throw SimError(.invalidConfiguration, "\(kernel.name) needs \(kernel.attributes.staticSharedBytes + sharedMemoryBytes) bytes of shared memory; the device allows \(gpu.properties.sharedMemoryPerBlockOptin)")
        }
        guard parameters.count >= kernel.parameterBufferSize else {
            throw SimError(.invalidValue, "\(kernel.name) takes \(kernel.parameterBufferSize) bytes of parameters, \(parameters.count) given")
        }
        var launch = KernelLaunch(kernel: kernel, grid: grid, block: block, dynamicSharedBytes: sharedMemoryBytes, parameters: parameters)
        if cooperative {
            let perSM = maxActiveBlocksPerMultiprocessor(kernel, blockSize: block.count, dynamicSharedBytes: sharedMemoryBytes)
            let limit = perSM * gpu.properties.multiprocessorCount
            guard grid.count <= limit else {
                throw SimError(.cooperativeLaunchTooLarge, "cooperative launch of \(kernel.name) with \(grid.count) blocks; at most \(limit) can be resident (\(perSM) per multiprocessor)")
            }
            launch.cooperative = true
            launch.gridWorkspace = try gridWorkspace()
        }
        // The unit's time is measured where it runs (the device scheduler); the kernel itself reads no clock.
        try enqueue(on: stream, onDevice: true) { [self, launch] () throws(SimError) in
            var executed = 0
            // Only kernels that can print or assert gather output.
            let output = launch.kernel.program.writesDeviceOutput
                ? DeviceOutput(capacity: state.withLock { $0.printfFifoSize - $0.printfPending.count }) : nil
            defer {
                if let output { collect(output) }
                recordKernel(instructions: executed)
            }
            if launch.cooperative, let p = addressMap.resolve(launch.gridWorkspace, length: 8) {
                // Fresh barrier; a non-zero size marks the workspace valid for cooperative groups.
                p.storeBytes(of: UInt32(8), toByteOffset: 0, as: UInt32.self)
                p.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            }
            let outcome = try device.engine.execute(launch, memory: addressMap, context: self, output: output)
            executed = outcome.instructions
            if let modelled = outcome.deviceNanoseconds { unitDeviceTime.store(modelled, ordering: .relaxed) }
        }
    }
}
