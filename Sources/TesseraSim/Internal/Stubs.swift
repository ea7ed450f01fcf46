import Synchronization
// Temporary stand-ins while the PTX front end and interpreter are written.
struct ParsedVariable { enum Space { case global, const, shared }; var name: String; var space: Space; var size: Int; var initializer: [UInt8]; var addressInitializers: [(Int, String)] }
struct ParsedFunction { var name: String; var isEntry: Bool; var maxThreadsPerBlock: Int? }
struct ParsedModule { var version: Int; var target: Int; var variables: [ParsedVariable]; var functions: [ParsedFunction] }
enum PTXParser { static func parse(_ s: String) throws(SimError) -> ParsedModule { throw SimError(.notSupported, "PTX not yet") } }
final class Program: Sendable { let parameters: [KernelParameter] = []; let staticSharedBytes = 0; let localBytesPerThread = 0; let declaredRegisterCount = 0 }
struct ProgramBuilder { var module: ParsedModule; var symbols: [String: UInt64]; var device: DeviceProperties
  func build(entry: ParsedFunction) throws(SimError) -> Program { Program() } }
struct KernelLaunch: Sendable { var kernel: SimKernel; var grid: Dim3; var block: Dim3; var dynamicSharedBytes: Int; var parameters: [UInt8] }
final class ExecutionEngine: Sendable { static var defaultWorkerCount: Int { 2 }; init(workers: Int) {}
  func execute(_ l: KernelLaunch, memory: AddressMap, cancelled: borrowing Atomic<Bool>) throws(SimError) {} }
