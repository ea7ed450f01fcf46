import Foundation
import TesseraSim
import TesseraSimLoad

/// One cell of the limit table: a program's throughput at one limit relative to the same program unlimited,
/// measured in rounds that alternate the two (its quota switched between them).
struct LimitCell {
    typealias Round = (base: SynchronousThroughput, limited: SynchronousThroughput)
    /// The rounds, by ratio.
    let rounds: [Round]

    static func ratio(_ round: Round) -> Double { round.limited.kernelsPerSecond / round.base.kernelsPerSecond }

    /// The median round (its ratio is the cell's figure).
    var median: Round { rounds[rounds.count / 2] }
    var relative: Double { Self.ratio(median) }
    /// The middle half of the rounds' ratios: the measure's own spread.
    var middleHalf: (low: Double, high: Double) {
        (Self.ratio(rounds[rounds.count / 4]), Self.ratio(rounds[(rounds.count * 3) / 4]))
    }
    var spread: Double { middleHalf.high - middleHalf.low }

    /// Measures `rounds` rounds of `seconds` per run, printing each round when `printingRounds`.
    static func measure(_ program: SaturatingProgram, percent: Int, rounds: Int, seconds: Double,
                        printingRounds: Bool) throws -> LimitCell {
        var measured: [Round] = []
        for _ in 0..<rounds {
            program.context.computeQuota = .whole
            let base = try SynchronousThroughput.measure(program, warmUp: 0.05, seconds: seconds)
            program.context.computeQuota = ComputeQuota(percent: percent, mode: .limit)
            let limited = try SynchronousThroughput.measure(program, warmUp: 0.2, seconds: seconds)
            measured.append((base, limited))
            if printingRounds {
                print(String(format: "  round: unlimited %7.1f/s (busy %5.1f %%)  limited %7.1f/s (busy %5.1f %%)  ratio %6.2f %%",
                             base.kernelsPerSecond, base.busyFraction * 100, limited.kernelsPerSecond,
                             limited.busyFraction * 100, ratio((base, limited)) * 100))
            }
        }
        return LimitCell(rounds: measured.sorted { ratio($0) < ratio($1) })
    }
}
