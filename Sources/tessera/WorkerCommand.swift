import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import TesseraCUDABackend

/// `tessera worker`: started by `tessera node --gpus` only, one per session and GPU; it talks to the node over
/// the descriptor the node hands it and holds that session's CUDA context. Hidden from help.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Internal: a node's GPU worker process.",
        shouldDisplay: false
    )

    @Option(name: .customLong("cuda-driver"), help: "The CUDA driver library to load.")
    var cudaDriver: String = CUDADriver.defaultPath

    @Option(help: "Driver ordinal of the GPU to serve.")
    var ordinal: Int = 0

    @Flag(help: "Report the driver's GPUs and exit.")
    var probe = false

    @Flag(name: .customLong("virtual-memory"), help: "Allocate through virtual memory management (a paging node).")
    var virtualMemory = false

    func run() throws {
        Glibc.exit(CUDAWorker.run(driverPath: cudaDriver, ordinal: ordinal, probe: probe, virtualMemory: virtualMemory))
    }
}
