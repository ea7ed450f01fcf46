extension SimContext {
    /// Takes the device `printf` output of finished launches, in launch order (what CUDA writes to the
    /// program's stdout at a synchronisation point). Call after synchronising.
    public func takePrintfOutput() -> [UInt8] {
        state.withLock { s in
            defer { s.printfPending = [] }
            return s.printfPending
        }
    }

    /// Takes the device `assert` messages of finished launches (what CUDA writes to stderr), in CUDA's
    /// format: `file:line: function: block: [x,y,z], thread: [x,y,z] Assertion `expr` failed.`
    public func takeAssertOutput() -> [UInt8] {
        state.withLock { s in
            defer { s.assertPending = [] }
            return s.assertPending
        }
    }

    /// `cudaLimitPrintfFifoSize`: bytes of printf output held between synchronisations (default 1 MiB);
    /// output beyond it is dropped, as CUDA drops it when the FIFO is full.
    public var printfFifoSize: Int {
        get { state.withLock { $0.printfFifoSize } }
        set { state.withLock { $0.printfFifoSize = max(0, newValue) } }
    }

    /// `cudaLimitStackSize`: bytes of stack per thread the program asked for (default 1024). The simulator
    /// sizes each kernel's local memory from its PTX, so this is recorded and reported, not enforced.
    public var stackSize: Int {
        get { state.withLock { $0.stackSize } }
        set { state.withLock { $0.stackSize = max(0, newValue) } }
    }
}
