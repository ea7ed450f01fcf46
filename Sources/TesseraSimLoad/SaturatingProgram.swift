import Dispatch
import Foundation
import Synchronization
import TesseraSim

/// A program that keeps its context's device busy, as a training loop does: kernels of a fixed length launched
/// in batches, double-buffered with events so that work is always queued. Used by the compute-isolation tests
/// and benchmark to load a simulated GPU.
public final class SaturatingProgram: @unchecked Sendable {
    /// A one-warp kernel that spins `iters` times: `spin(u32 iters, u64 out)`.
    public static let spinPTX = """
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

    public let context: SimContext
    let kernel: SimKernel
    let params: [UInt8]
    private let stop = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let running = DispatchSemaphore(value: 0)

    /// A program on `gpu` with `quota`, whose kernels spin `iterations` times each.
    public init(gpu: SimulatedGPU, quota: ComputeQuota, iterations: Int, blocks: Int = 1) throws {
        self.blocks = UInt32(max(1, blocks))
        let context = gpu.makeContext(compute: quota)
        let kernel = try context.loadModule(ptx: Self.spinPTX).kernel(named: "spin")
        let out = try context.allocate(4)
        var p = [UInt8](repeating: 0, count: kernel.parameterBufferSize)
        p.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(iterations), toByteOffset: kernel.parameters[0].offset, as: UInt32.self)
            $0.storeBytes(of: out, toByteOffset: kernel.parameters[1].offset, as: UInt64.self)
        }
        (self.context, self.kernel, self.params) = (context, kernel, p)
    }

    /// Blocks per kernel: one, or several to occupy every worker thread of the device.
    let blocks: UInt32

    /// Launches one kernel.
    public func launch() throws { try context.launch(kernel, grid: Dim3(blocks), block: Dim3(32), parameters: params) }

    /// Starts launching on a dedicated thread (a busy machine's shared dispatch pool would start it late) and
    /// returns once the first batch is queued.
    public func start() {
        Thread.detachNewThread { [self] in
            var inFlight: [SimEvent] = []
            while !stop.load(ordering: .relaxed) {
                for _ in 0..<16 { try? launch() }
                let e = context.makeEvent()
                try? context.record(e)
                inFlight.append(e)
                if inFlight.count == 1 { running.signal() }
                if inFlight.count > 4 { inFlight.removeFirst().synchronize() }
            }
            try? context.synchronize()
            done.signal()
        }
        running.wait()
    }

    /// Stops launching, waits for queued work and destroys the context.
    public func finish() {
        stop.store(true, ordering: .relaxed)
        done.wait()
        context.destroy()
    }

    /// Spin iterations that take about `milliseconds` on this machine.
    public static func calibrate(milliseconds: Double) throws -> Int {
        let p = try SaturatingProgram(gpu: SimulatedGPU(workerThreads: 1), quota: .whole, iterations: 20_000)
        defer { p.context.destroy() }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<5 { try p.launch() }
        try p.context.synchronize()
        let perIteration = Double(DispatchTime.now().uptimeNanoseconds - start) / 100_000
        return max(100, Int(milliseconds * 1e6 / perIteration))
    }
}

/// What programs sharing one simulated GPU achieved over a window.
public struct ShareMeasurement: Sendable {
    /// Each program's fraction of the device time all of them used.
    public var shares: [Double]
    /// Each program's device time as a fraction of wall time.
    public var busyFraction: [Double]
    public var kernelsPerSecond: [Double]
    /// Kernels of all programs per second of this process's CPU time.
    public var kernelsPerCPUSecond: Double

    /// Runs programs with these quotas and spin lengths together on one single-worker GPU and measures
    /// `seconds` of steady state.
    /// - Parameter scheduled: false to run without the compute scheduler (to measure its cost).
    public static func measure(_ setups: [(ComputeQuota, Int)], seconds: Double, scheduled: Bool = true) throws -> ShareMeasurement {
        let gpu = SimulatedGPU(workerThreads: 1, schedulesCompute: scheduled)
        let programs = try setups.map { try SaturatingProgram(gpu: gpu, quota: $0.0, iterations: $0.1) }
        for p in programs { p.start() }
        usleep(300_000)  // reach steady state
        let busy0 = programs.map(\.context.deviceBusyNanoseconds), kernels0 = programs.map(\.context.kernelsLaunched)
        let start = DispatchTime.now().uptimeNanoseconds
        let cpu0 = cpuSeconds()
        usleep(UInt32(seconds * 1e6))
        let cpu = cpuSeconds() - cpu0
        let busy1 = programs.map(\.context.deviceBusyNanoseconds), kernels1 = programs.map(\.context.kernelsLaunched)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start)
        for p in programs { p.finish() }
        let used = zip(busy1, busy0).map { Double($0 - $1) }
        let total = used.reduce(0, +)
        let kernels = zip(kernels1, kernels0).map { Double($0 - $1) }
        return ShareMeasurement(shares: used.map { $0 / total }, busyFraction: used.map { $0 / wall },
                                kernelsPerSecond: kernels.map { $0 / (wall / 1e9) },
                                kernelsPerCPUSecond: kernels.reduce(0, +) / cpu)
    }

    /// CPU seconds this process has used.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

/// Throughput of a lone program that launches a few kernels and synchronises, over and over (the shape of most
/// training and inference loops): the measure by which a `limit` share is judged, relative to the same program
/// unlimited.
public struct SynchronousThroughput: Sendable {
    public var kernelsPerSecond: Double
    /// The program's device time as a fraction of wall time.
    public var busyFraction: Double

    /// Runs the program alone on a fresh simulated GPU with `quota` for `seconds` (after a short warm-up).
    /// - Parameters:
    ///   - iterations: spin iterations per kernel (see ``SaturatingProgram/calibrate(milliseconds:)``).
    ///   - batch: kernels launched between synchronisations.
    ///   - blocks: blocks per kernel (more than one spreads each kernel over the device's worker threads).
    public static func measure(quota: ComputeQuota, iterations: Int, batch: Int = 4, blocks: Int = 1,
                               workerThreads: Int? = nil, seconds: Double) throws -> SynchronousThroughput {
        let gpu = SimulatedGPU(workerThreads: workerThreads)
        let program = try SaturatingProgram(gpu: gpu, quota: quota, iterations: iterations, blocks: blocks)
        defer { program.context.destroy() }
        return try measure(program, batch: batch, seconds: seconds)
    }

    /// Runs `program` (alone on its GPU) with its context's current quota for `seconds`, after a warm-up of
    /// `warmUp` seconds (long enough to spend a `limit` context's burst: the bucket holds 50 ms at its share).
    public static func measure(_ program: SaturatingProgram, batch: Int = 4, warmUp: Double = 0.2,
                               seconds: Double) throws -> SynchronousThroughput {
        func loop(until deadline: UInt64) throws -> Int {
            var kernels = 0
            while DispatchTime.now().uptimeNanoseconds < deadline {
                for _ in 0..<batch { try program.launch() }
                try program.context.synchronize()
                kernels += batch
            }
            return kernels
        }
        _ = try loop(until: DispatchTime.now().uptimeNanoseconds + UInt64(warmUp * 1e9))
        let busy0 = program.context.deviceBusyNanoseconds
        let start = DispatchTime.now().uptimeNanoseconds
        let kernels = try loop(until: start + UInt64(seconds * 1e9))
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start)
        return SynchronousThroughput(kernelsPerSecond: Double(kernels) / (wall / 1e9),
                                     busyFraction: Double(program.context.deviceBusyNanoseconds - busy0) / wall)
    }
}
