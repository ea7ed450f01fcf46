// Compute isolation on one simulated GPU: achieved shares of device time for programs at 10/30/60 %,
// with equal and with unequal kernel sizes; a lone 25 % `limit` program and a lone 25 % `share` program
// against the same program alone and unlimited (the baseline, measured in the same run); and the scheduler's
// overhead: a lone 100 % program's kernels per CPU-second with the scheduler against the same device without it.
//
// Then the throughput-relative measure of `limit`: a lone program launching 4 kernels and synchronising, at
// limit 5/10/25/50/75/100 %, against the same program unlimited in alternating rounds of the same run, with
// 1-block kernels and with kernels spread over every worker thread.
//
// The limit table is measured with the host's cores kept out of their idle states (see HostWarmth), unless
// `--host-as-is`: on a simulated GPU a core waking from idle runs the throttled program's next kernel slower.
// Kept warm, its one-block shapes run in a child process confined to one core (see OneCore; `--all-cores` not).
//
// Usage: tessera-bench-compute [--seconds S] [--limit-only] [--rounds R] [--shapes 1,2,3] [--limits 5,10,…]
//                              [--host-as-is] [--all-cores] [--each-round]
import Foundation
import TesseraSim
import TesseraSimLoad

let arguments = CommandLine.arguments
let seconds = arguments.firstIndex(of: "--seconds").flatMap { Double(arguments[$0 + 1]) } ?? 10

func pct(_ x: Double) -> String { String(format: "%5.1f %%", x * 100) }

let n = try arguments.firstIndex(of: "--iterations").flatMap { Int(arguments[$0 + 1]) } ?? SaturatingProgram.calibrate(milliseconds: 1)
let limitOnly = arguments.contains("--limit-only")
/// `--shapes 1,3` and `--limits 50,75` narrow the limit table to some kernel shapes (1-based) and limits.
func listArgument(_ name: String) -> [Int]? {
    arguments.firstIndex(of: name).map { arguments[$0 + 1].split(separator: ",").compactMap { Int($0) } }
}

func limitThroughput() throws {
    // The host's speed drifts by several per cent over seconds on a shared virtual machine, so each limit is
    // measured in many short rounds that alternate the unlimited baseline and the limited run, and the median
    // round's ratio is reported: a round's two runs, close together in time, see the same host. Both runs of a
    // round use one program, its quota switched between them: two fresh programs differ by a few per cent in
    // speed alone (their memory layout), which would show as error.
    let rounds = listArgument("--rounds")?.first ?? 25
    let perRun = max(0.3, seconds / 2 / Double(rounds))
    let workers = ProcessInfo.processInfo.activeProcessorCount
    let warmth = arguments.contains("--host-as-is") ? nil : HostWarmth()
    defer { warmth?.stop() }
    // A child measuring some shapes for its parent (OneCore) prints rows only.
    let rowsOnly = arguments.contains("--child")
    let eachRound = arguments.contains("--each-round")
    // Kept warm, the one-block shapes run confined to one core (see OneCore); `--host-as-is` runs them as they come.
    let oneCore = warmth != nil && !rowsOnly && !arguments.contains("--all-cores")
    if !rowsOnly {
        print("limit mode, lone program launching 4 kernels then synchronising; throughput relative to the same program")
        print("unlimited (baseline), \(rounds) alternating rounds of \(String(format: "%.1f", perRun)) s each, median round (and the middle half of the")
        print("rounds' ratios, the measure's own spread). Target: within 2 pp of the limit. A cell whose middle half spans more")
        print("than the target's width (4 pp) is measured again, at most twice (the host was noisy); the calmest attempt is shown.")
        print(warmth == nil ? "Host as is: its cores may idle between a limited program's kernels."
                            : "Host kept warm: one SCHED_IDLE spinner per core keeps the cores out of idle states (--host-as-is to measure without).")
        print("Device time per kernel is what the scheduler charged (a multi-block kernel: its modelled device time, plus its threads' usual wake-up).")
        if oneCore { print("The one-block shapes run in a child process confined to one core (--all-cores to measure them on every core).") }
        print("kernel shape          limit   unlimited kernels/s (busy, µs/kernel)   limited kernels/s (busy, µs/kernel)   relative (middle half)   error")
    }
    let shapes = [("1 block, ≈1 ms", 1, n), ("\(workers * 2) blocks, ≈2 ms", workers * 2, n * 2), ("1 block, ≈0.1 ms", 1, n / 10)]
    let chosenShapes = listArgument("--shapes") ?? Array(1...shapes.count)
    for (index, (shape, blocks, iterations)) in shapes.enumerated() where chosenShapes.contains(index + 1) {
        if oneCore && blocks == 1 {
            print(try OneCore.rows(shape: index + 1, iterations: n, arguments: arguments), terminator: "")
            continue
        }
        let program = try SaturatingProgram(gpu: SimulatedGPU(), quota: .whole, iterations: iterations, blocks: blocks)
        defer { program.context.destroy() }
        for percent in listArgument("--limits") ?? [5, 10, 25, 50, 75, 100] {
            // A cell whose rounds' middle half spans more than the target's whole width (4 pp) was measured while
            // the host was too noisy to decide it: it is measured again, at most twice; the calmest attempt (the
            // narrowest middle half) is reported and the others' figures are printed after it.
            var attempts = [try LimitCell.measure(program, percent: percent, rounds: rounds, seconds: perRun, printingRounds: eachRound)]
            while attempts.count < 3 && attempts.allSatisfy({ $0.spread > 0.04 }) {
                attempts.append(try LimitCell.measure(program, percent: percent, rounds: rounds, seconds: perRun, printingRounds: eachRound))
            }
            let calmest = attempts.indices.min { attempts[$0].spread < attempts[$1].spread }!
            let cell = attempts[calmest]
            let (base, lim) = cell.median
            let (low, high) = cell.middleHalf
            func perKernel(_ t: SynchronousThroughput) -> Double { t.busyFraction / t.kernelsPerSecond * 1e6 }
            func error(_ c: LimitCell) -> Double { c.relative * 100 - Double(percent) }
            let noisy = attempts.count == 1 ? "" : "  (noisy host, remeasured; other attempts: "
                + attempts.indices.filter { $0 != calmest }.map { attempts[$0] }.map {
                    String(format: "%+.1f pp, %.1f–%.1f", error($0), $0.middleHalf.low * 100, $0.middleHalf.high * 100)
                }.joined(separator: "; ") + ")"
            print(String(format: "%-20@  %4d %%  %12.0f (%3.0f %%, %6.0f)  %22.0f (%3.0f %%, %6.0f)  %7.1f %% (%5.1f–%5.1f)  %+5.1f pp", shape as NSString, percent,
                         base.kernelsPerSecond, base.busyFraction * 100, perKernel(base), lim.kernelsPerSecond, lim.busyFraction * 100,
                         perKernel(lim), cell.relative * 100, low * 100, high * 100, error(cell)) + noisy)
        }
    }
}
if limitOnly {
    try limitThroughput()
    exit(0)
}
print("Compute isolation on one saturated simulated GPU (\(Int(seconds)) s per scenario; kernels ≈ 1 ms unless noted)")
let quotas = [ComputeQuota(percent: 10), ComputeQuota(percent: 30), ComputeQuota(percent: 60)]
let equal = try ShareMeasurement.measure(quotas.map { ($0, n) }, seconds: seconds)
print("shares 10/30/60, equal kernels:            \(equal.shares.map(pct).joined(separator: "  "))")
let unequal = try ShareMeasurement.measure(zip(quotas, [n * 4, n / 10, n]).map { ($0, $1) }, seconds: seconds)
print("shares 10/30/60, kernels 4 / 0.1 / 1 ms:   \(unequal.shares.map(pct).joined(separator: "  "))")
let short = max(2, seconds / 3)
let alone = try ShareMeasurement.measure([(ComputeQuota(percent: 100), n)], seconds: short)
let limited = try ShareMeasurement.measure([(ComputeQuota(percent: 25, mode: .limit), n)], seconds: short)
let shared = try ShareMeasurement.measure([(ComputeQuota(percent: 25, mode: .share), n)], seconds: short)
print("lone program, 100 % (baseline):            device busy \(pct(alone.busyFraction[0]))")
print("lone program, 25 % limit:                  device busy \(pct(limited.busyFraction[0])) = \(pct(limited.busyFraction[0] / alone.busyFraction[0])) of baseline")
print("lone program, 25 % share:                  device busy \(pct(shared.busyFraction[0])) = \(pct(shared.busyFraction[0] / alone.busyFraction[0])) of baseline")
// Overhead: small kernels make the per-kernel scheduling cost visible. Measured per CPU-second used, so that
// other load on a shared machine cancels out; runs alternate with and without the scheduler.
let small = max(100, n / 20)
var with: [Double] = [], without: [Double] = []
for _ in 0..<5 {
    with.append(try ShareMeasurement.measure([(ComputeQuota(percent: 100), small)], seconds: short / 2).kernelsPerCPUSecond)
    without.append(try ShareMeasurement.measure([(ComputeQuota(percent: 100), small)], seconds: short / 2, scheduled: false).kernelsPerCPUSecond)
}
let w = with.sorted()[2], wo = without.sorted()[2]
print(String(format: "scheduler overhead, 100 %% alone, ≈50 µs kernels: %.0f kernels per CPU-s with vs %.0f without (baseline): cost %.1f %%", w, wo, (1 - w / wo) * 100))
try limitThroughput()
