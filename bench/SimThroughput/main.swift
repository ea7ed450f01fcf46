// Interpreted throughput of the simulated GPU, in warp-instructions per second, on one core and on all
// cores, for vector add and tiled matrix multiply. Baseline, measured in the same run: the same
// computation written natively in Swift on one core.
//
// Usage: tessera-bench-sim PTX_FILE [--seconds S]
import Dispatch
import Foundation
import TesseraSim

let arguments = CommandLine.arguments
guard arguments.count >= 2, let ptx = try? String(contentsOfFile: arguments[1], encoding: .utf8) else {
    FileHandle.standardError.write("usage: tessera-bench-sim PTX_FILE [--seconds S]\n".data(using: .utf8)!)
    exit(2)
}
let minimumSeconds = arguments.firstIndex(of: "--seconds").flatMap { Double(arguments[$0 + 1]) } ?? 1.0

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// CPU seconds this process has used: on a shared, noisy machine, rate per CPU-second is the fair per-core figure.
func cpuTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

func packed(_ values: [UInt64], _ n: Int32) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { withUnsafeBytes(of: v) { out += $0 } }
    withUnsafeBytes(of: n) { out += $0 }
    return out
}

struct Result { var seconds: Double; var cpuSeconds: Double; var instructions: Int; var launches: Int }

/// Launches until at least `minimumSeconds` have passed; returns time and warp-instructions.
func run(workers: Int, kernel name: String, setup: (SimContext, SimKernel) throws -> (Dim3, Dim3, [UInt8])) throws -> Result {
    let gpu = SimulatedGPU(properties: DeviceProperties(totalMemory: 4 << 30), workerThreads: workers)
    let ctx = gpu.makeContext()
    let kernel = try ctx.loadModule(ptx: ptx).kernel(named: name)
    let (grid, block, params) = try setup(ctx, kernel)
    try ctx.launch(kernel, grid: grid, block: block, parameters: params)  // warm-up
    try ctx.synchronize()
    let before = ctx.warpInstructionsExecuted
    let start = now()
    let cpuStart = cpuTime()
    var launches = 0
    repeat {
        try ctx.launch(kernel, grid: grid, block: block, parameters: params)
        try ctx.synchronize()
        launches += 1
    } while now() - start < minimumSeconds
    let seconds = now() - start
    return Result(seconds: seconds, cpuSeconds: cpuTime() - cpuStart, instructions: ctx.warpInstructionsExecuted - before, launches: launches)
}

let n = 1 << 22
let vaddSetup: (SimContext, SimKernel) throws -> (Dim3, Dim3, [UInt8]) = { ctx, _ in
    let a = try ctx.allocate(n * 4), b = try ctx.allocate(n * 4), c = try ctx.allocate(n * 4)
    let ones = [Float](repeating: 1, count: n)
    try ones.withUnsafeBytes { try ctx.copyToDevice(a, from: $0.baseAddress!, count: n * 4); try ctx.copyToDevice(b, from: $0.baseAddress!, count: n * 4) }
    try ctx.synchronize()
    return (Dim3(UInt32(n / 256)), Dim3(256), packed([a, b, c], Int32(n)))
}
let m = 256
let matmulSetup: (SimContext, SimKernel) throws -> (Dim3, Dim3, [UInt8]) = { ctx, _ in
    let a = try ctx.allocate(m * m * 4), b = try ctx.allocate(m * m * 4), c = try ctx.allocate(m * m * 4)
    let values = (0..<(m * m)).map { Float($0 % 13) }
    try values.withUnsafeBytes { try ctx.copyToDevice(a, from: $0.baseAddress!, count: m * m * 4); try ctx.copyToDevice(b, from: $0.baseAddress!, count: m * m * 4) }
    try ctx.synchronize()
    return (Dim3(UInt32(m / 16), UInt32(m / 16)), Dim3(16, 16), packed([a, b, c], Int32(m)))
}

/// Native Swift baselines for the same work, one core.
func nativeVectorAdd() -> Double {
    let a = [Float](repeating: 1, count: n), b = [Float](repeating: 1, count: n)
    var c = [Float](repeating: 0, count: n)
    let start = cpuTime()
    var reps = 0
    repeat {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            for i in 0..<n { pc[i] = pa[i] + pb[i] }
        } } }
        reps += 1
    } while cpuTime() - start < minimumSeconds / 4
    return (cpuTime() - start) / Double(reps)
}

func nativeMatmul() -> Double {
    let a = (0..<(m * m)).map { Float($0 % 13) }
    var c = [Float](repeating: 0, count: m * m)
    let start = cpuTime()
    var reps = 0
    repeat {
        a.withUnsafeBufferPointer { pa in c.withUnsafeMutableBufferPointer { pc in
            for i in 0..<m { for j in 0..<m {
                var acc: Float = 0
                for k in 0..<m { acc += pa[i * m + k] * pa[k * m + j] }
                pc[i * m + j] = acc
            } }
        } }
        reps += 1
    } while cpuTime() - start < minimumSeconds / 4
    return (cpuTime() - start) / Double(reps)
}

let cores = ProcessInfo.processInfo.activeProcessorCount
print("Simulated GPU interpreted throughput; baseline: the same computation in native Swift on 1 core, same run.")
print("Mwi/s = million warp-instructions per wall second; per CPU-s = per second of CPU time used (robust on a shared machine).")
print("kernel   workers  warp-instr/launch  launches  Mwi/s wall  Mwi/s per CPU-s  CPU-s/launch  native CPU-s  slowdown")
for (name, setup, native) in [("vadd", vaddSetup, nativeVectorAdd), ("matmul", matmulSetup, nativeMatmul)] {
    let nativeTime = native()
    for workers in Set([1, cores]).sorted() {
        let r = try run(workers: workers, kernel: name, setup: setup)
        let rate = Double(r.instructions) / r.seconds
        let cpuRate = Double(r.instructions) / r.cpuSeconds
        let cpuPerLaunch = r.cpuSeconds / Double(r.launches)
        print(String(format: "%-8@ %7d  %17d  %8d  %10.1f  %15.1f  %9.1f ms  %9.2f ms  %7.0fx",
                     name as NSString, workers, r.instructions / r.launches, r.launches, rate / 1e6, cpuRate / 1e6,
                     cpuPerLaunch * 1e3, nativeTime * 1e3, cpuPerLaunch / nativeTime))
    }
}
