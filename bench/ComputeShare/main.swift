// Compute isolation on one simulated GPU: achieved shares of device time for programs at 10/30/60 %,
// with equal and with unequal kernel sizes; a lone 25 % `limit` program and a lone 25 % `share` program
// against the same program alone and unlimited (the baseline, measured in the same run); and the scheduler's
// overhead: a lone 100 % program's kernel throughput with the scheduler against the same device without it.
//
// Usage: tessera-bench-compute [--seconds S]
import Dispatch
import Foundation
import Synchronization
import TesseraSim

let arguments = CommandLine.arguments
let seconds = arguments.firstIndex(of: "--seconds").flatMap { Double(arguments[$0 + 1]) } ?? 10

let spinPTX = """
    .version 7.0
    .target sm_75
    .address_size 64
    .visible .entry spin(.param .u32 iters, .param .u64 out)
    {
        .reg .pred %p<2>;
        .reg .b32 %r<4>;
        .reg .f32 %f<3>;
        .reg .b64 %rd<3>;
        ld.param.u32 %r1, [iters];
        mov.u32 %r2, 0;
        mov.f32 %f1, 0f3F800000;
    LOOP:
        fma.rn.f32 %f1, %f1, 0f3F7FFFFF, 0f3A83126F;
        add.u32 %r2, %r2, 1;
        setp.lt.u32 %p1, %r2, %r1;
        @%p1 bra LOOP;
        ld.param.u64 %rd1, [out];
        st.global.f32 [%rd1], %f1;
        ret;
    }
    """

/// A program that keeps its vGPU saturated: batches of launches, double-buffered with events.
final class Program: @unchecked Sendable {
    let context: SimContext
    let kernel: SimKernel
    let params: [UInt8]
    let stop = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
    let running = DispatchSemaphore(value: 0)

    init(gpu: SimulatedGPU, quota: ComputeQuota, iterations: Int) throws {
        let context = gpu.makeContext(compute: quota)
        let kernel = try context.loadModule(ptx: spinPTX).kernel(named: "spin")
        let out = try context.allocate(4)
        var p = [UInt8](repeating: 0, count: kernel.parameterBufferSize)
        p.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(iterations), toByteOffset: kernel.parameters[0].offset, as: UInt32.self)
            $0.storeBytes(of: out, toByteOffset: kernel.parameters[1].offset, as: UInt64.self)
        }
        (self.context, self.kernel, self.params) = (context, kernel, p)
    }

    func start() {
        Thread.detachNewThread { [self] in
            var inFlight: [SimEvent] = []
            while !stop.load(ordering: .relaxed) {
                for _ in 0..<16 { try? context.launch(kernel, grid: Dim3(1), block: Dim3(32), parameters: params) }
                let e = context.makeEvent()
                try? context.record(e)
                inFlight.append(e)
                if inFlight.count == 1 { running.signal() }
                if inFlight.count > 4 { inFlight.removeFirst().synchronize() }
            }
            try? context.synchronize()
            done.signal()
        }
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        done.wait()
        context.destroy()
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// CPU seconds used by this process: on a shared machine, work per CPU-second is the fair cost measure.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

/// Iterations of the spin loop taking about `milliseconds`.
func calibrate(milliseconds: Double) throws -> Int {
    let p = try Program(gpu: SimulatedGPU(workerThreads: 1), quota: .whole, iterations: 20_000)
    defer { p.context.destroy() }
    let start = now()
    for _ in 0..<5 { try p.context.launch(p.kernel, grid: Dim3(1), block: Dim3(32), parameters: p.params) }
    try p.context.synchronize()
    return max(100, Int(milliseconds * 1e6 / (Double(now() - start) / 100_000)))
}

struct Outcome { var shares: [Double]; var busyFraction: [Double]; var kernelsPerSecond: [Double]; var kernelsPerCPUSecond: Double }

func run(_ setups: [(ComputeQuota, Int)], seconds: Double, scheduled: Bool = true) throws -> Outcome {
    let gpu = SimulatedGPU(workerThreads: 1, schedulesCompute: scheduled)
    let programs = try setups.map { try Program(gpu: gpu, quota: $0.0, iterations: $0.1) }
    for p in programs { p.start() }
    for p in programs { p.running.wait() }
    usleep(300_000)
    let busy0 = programs.map(\.context.deviceBusyNanoseconds), kernels0 = programs.map(\.context.kernelsLaunched)
    let start = now()
    let cpu0 = cpuSeconds()
    usleep(UInt32(seconds * 1e6))
    let cpu = cpuSeconds() - cpu0
    let busy1 = programs.map(\.context.deviceBusyNanoseconds), kernels1 = programs.map(\.context.kernelsLaunched)
    let wall = Double(now() - start)
    for p in programs { p.finish() }
    let used = zip(busy1, busy0).map { Double($0 - $1) }
    let total = used.reduce(0, +)
    return Outcome(shares: used.map { $0 / total }, busyFraction: used.map { $0 / wall },
                   kernelsPerSecond: zip(kernels1, kernels0).map { Double($0 - $1) / (wall / 1e9) },
                   kernelsPerCPUSecond: Double(zip(kernels1, kernels0).map { $0 - $1 }.reduce(0, +)) / cpu)
}

func pct(_ x: Double) -> String { String(format: "%5.1f %%", x * 100) }

let n = try calibrate(milliseconds: 1)
print("Compute isolation on one saturated simulated GPU (\(Int(seconds)) s per scenario; kernels ≈ 1 ms unless noted)")
let quotas = [ComputeQuota(percent: 10), ComputeQuota(percent: 30), ComputeQuota(percent: 60)]
let equal = try run(quotas.map { ($0, n) }, seconds: seconds)
print("shares 10/30/60, equal kernels:            \(equal.shares.map(pct).joined(separator: "  "))")
let unequal = try run(zip(quotas, [n * 4, n / 10, n]).map { ($0, $1) }, seconds: seconds)
print("shares 10/30/60, kernels 4 / 0.1 / 1 ms:   \(unequal.shares.map(pct).joined(separator: "  "))")
let short = max(2, seconds / 3)
let alone = try run([(ComputeQuota(percent: 100), n)], seconds: short)
let limited = try run([(ComputeQuota(percent: 25, mode: .limit), n)], seconds: short)
let shared = try run([(ComputeQuota(percent: 25, mode: .share), n)], seconds: short)
print("lone program, 100 % (baseline):            device busy \(pct(alone.busyFraction[0])), \(Int(alone.kernelsPerSecond[0])) kernels/s")
print("lone program, 25 % limit:                  device busy \(pct(limited.busyFraction[0])), \(Int(limited.kernelsPerSecond[0])) kernels/s = \(pct(limited.kernelsPerSecond[0] / alone.kernelsPerSecond[0])) of baseline")
print("lone program, 25 % share:                  device busy \(pct(shared.busyFraction[0])), \(Int(shared.kernelsPerSecond[0])) kernels/s = \(pct(shared.kernelsPerSecond[0] / alone.kernelsPerSecond[0])) of baseline")
// Overhead: small kernels make the per-kernel scheduling cost visible. Measured per CPU-second used, so that
// other load on a shared machine cancels out; runs alternate with and without the scheduler.
let small = max(100, n / 20)
var with: [Double] = [], without: [Double] = []
for _ in 0..<5 {
    with.append(try run([(ComputeQuota(percent: 100), small)], seconds: short / 2).kernelsPerCPUSecond)
    without.append(try run([(ComputeQuota(percent: 100), small)], seconds: short / 2, scheduled: false).kernelsPerCPUSecond)
}
let w = with.sorted()[2], wo = without.sorted()[2]
print(String(format: "scheduler overhead, 100 %% alone, ≈50 µs kernels: %.0f kernels per CPU-s with vs %.0f without (baseline): cost %.1f %%", w, wo, (1 - w / wo) * 100))
