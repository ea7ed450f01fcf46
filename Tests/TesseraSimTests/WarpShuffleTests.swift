import Testing
@testable import TesseraSim

/// Warp shuffles in every mode, width, clamp and segment mask, and the cooperative-groups constructs the
/// `reduction` sample needs (multi-warp tiles over reserved shared memory, redux.sync, WARP_SZ).
@Suite struct WarpShuffleTests {
    /// The PTX ISA's definition of `shfl.sync` for lane `lane`: value source lane and the in-range predicate.
    static func ptxShuffle(mode: Int, lane: Int, b: UInt32, c: UInt32) -> (source: Int, inRange: Bool) {
        let bval = Int(b & 0x1F), cval = Int(c & 0x1F), segmask = Int((c >> 8) & 0x1F)
        let maxLane = (lane & segmask) | (cval & ~segmask)
        let minLane = lane & segmask
        var j: Int
        let ok: Bool
        switch mode {
        case 0: j = lane - bval; ok = j >= maxLane
        case 1: j = lane + bval; ok = j <= maxLane
        case 2: j = lane ^ bval; ok = j <= maxLane
        default: j = minLane | (bval & ~segmask); ok = j <= maxLane
        }
        if !ok { j = lane }
        return (j, ok)
    }

    @Test func rawShufflesFollowThePTXDefinitionForAnyClampAndSegmentMask() throws {
        let harness = SimHarness()
        let kernel = try harness.load("shuffle.cu", .ptx(arch: 80)).kernel(named: "shfl_raw")
        var random = SplitMix64(seed: 18)
        let input = (0..<32).map { _ in UInt32(truncatingIfNeeded: random.next()) }
        // The c values CUDA's intrinsics produce for every width, then arbitrary clamps and masks, including
        // bits above the fields (ignored) and clamps that cut a segment short.
        var cs: [UInt32] = []
        for w in [1, 2, 4, 8, 16, 32] {
            cs.append(UInt32((32 - w) << 8))
            cs.append(UInt32((32 - w) << 8 | 0x1F))
        }
        for _ in 0..<36 { cs.append(UInt32(truncatingIfNeeded: random.next())) }
        var bs: [UInt32] = []
        for k in 0..<cs.count {
            for lane in 0..<32 {
                // Uniform small deltas, per-lane indices, and values with high bits set.
                switch k % 3 {
                case 0: bs.append(UInt32(k % 34))
                case 1: bs.append(UInt32(random.int(0...31)))
                default: bs.append(UInt32(truncatingIfNeeded: random.next()) | UInt32(lane))
                }
            }
        }
        let din = try harness.upload(input), db = try harness.upload(bs), dc = try harness.upload(cs)
        let out = try harness.zeros(UInt32.self, count: cs.count * 4 * 32 * 2)
        try harness.run(kernel, grid: Dim3(1), block: Dim3(32), arg(din), arg(db), arg(dc), arg(out), arg(Int32(cs.count)))
        let got = try harness.download(out, count: cs.count * 4 * 32 * 2, as: UInt32.self)
        var failures = 0
        for k in 0..<cs.count {
            for mode in 0..<4 {
                for lane in 0..<32 {
                    let (source, ok) = Self.ptxShuffle(mode: mode, lane: lane, b: bs[k * 32 + lane], c: cs[k])
                    let i = ((k * 4 + mode) * 32 + lane) * 2
                    if got[i] != input[source] || got[i + 1] != (ok ? 1 : 0) {
                        failures += 1
                        if failures < 10 {
                            Issue.record("mode \(["up", "down", "bfly", "idx"][mode]) c=0x\(String(cs[k], radix: 16)) b=\(bs[k * 32 + lane]) lane \(lane): got \(got[i])/\(got[i + 1]), expected lane \(source)'s value/\(ok)")
                        }
                    }
                }
            }
        }
        #expect(failures == 0)
    }

    @Test func intrinsicShufflesInEveryWidthStayInTheirSegment() throws {
        let harness = SimHarness()
        let kernel = try harness.load("shuffle.cu", .ptx(arch: 80)).kernel(named: "shfl_widths")
        let input = (0..<32).map { Int32($0 * 7 + 100) }
        let din = try harness.upload(input)
        let count = 6 * 41 * 5 * 32
        let out = try harness.zeros(Int32.self, count: count)
        try harness.run(kernel, grid: Dim3(1), block: Dim3(32), arg(din), arg(out))
        let got = try harness.download(out, count: count, as: Int32.self)
        var failures = 0
        for wi in 0..<6 {
            let w = 1 << wi
            for d in 0...40 {
                for lane in 0..<32 {
                    // CUDA's documented semantics: lanes form segments of `width`; up/down stay inside the
                    // segment (else the own value), xor may read earlier segments but not later ones, idx
                    // takes the source lane modulo the width.
                    // The hardware takes the delta's low five bits (a delta of 33 shifts by 1).
                    let base = lane & ~(w - 1), inSegment = lane - base, delta = d & 31
                    let up = inSegment - delta >= 0 ? lane - delta : lane
                    let down = inSegment + delta < w ? lane + delta : lane
                    let x = lane ^ (d & 31)
                    let xor = x < base + w ? x : lane
                    let idx = base + (d & (w - 1))
                    let idxNeg = base + ((lane - d) & (w - 1))
                    let expected = [up, down, xor, idx, idxNeg].map { input[$0] }
                    for op in 0..<5 {
                        let observed = got[((wi * 41 + d) * 5 + op) * 32 + lane]
                        if observed != expected[op] {
                            failures += 1
                            if failures < 10 {
                                Issue.record("\(["up", "down", "xor", "idx", "idx(lane-d)"][op]) width \(w) d \(d) lane \(lane): got \(observed), expected \(expected[op])")
                            }
                        }
                    }
                }
            }
        }
        #expect(failures == 0)
    }

    @Test(arguments: [1, 2, 4, 8, 16, 32])
    func blockScanWithRuntimeWidthAsShflScanDoes(width: Int) throws {
        let harness = SimHarness()
        let kernel = try harness.load("shuffle.cu", .ptx(arch: 80)).kernel(named: "shfl_block_scan")
        let blocks = 3, threads = 256
        var random = SplitMix64(seed: UInt64(width))
        let input = (0..<(blocks * threads)).map { _ in Int32(random.int(0...9)) }
        let din = try harness.upload(input)
        let out = try harness.zeros(Int32.self, count: input.count)
        try harness.run(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)), sharedMemoryBytes: 32 * 4,
                        arg(din), arg(out), arg(Int32(width)))
        let got = try harness.download(out, count: input.count, as: Int32.self)
        // Reference: scan within segments of `width`, then the warp sums (the last lane's value) scanned with
        // the same width over the block's 8 warps, added back per warp.
        var expected = [Int32](repeating: 0, count: input.count)
        for b in 0..<blocks {
            for t in 0..<threads {
                let i = b * threads + t
                let lane = t % 32
                let warpBase = b * threads + (t / 32) * 32
                var warpValues = Array(input[warpBase..<(warpBase + 32)])
                var step = 1
                while step <= width {
                    let before = warpValues
                    for l in 0..<32 {
                        let inSeg = l % width
                        let shuffled = inSeg >= step ? before[l - step] : before[l]
                        if l >= step { warpValues[l] = before[l] + shuffled }
                    }
                    step *= 2
                }
                expected[i] = warpValues[lane]
            }
            var sums = (0..<8).map { expected[b * threads + $0 * 32 + 31] }
            let warps = threads / 32
            var step = 1
            while step <= warps {
                let before = sums
                for l in 0..<warps {
                    let inSeg = l % warps
                    let shuffled = inSeg >= step ? before[l - step] : before[l]
                    if l >= step { sums[l] = before[l] + shuffled }
                }
                step *= 2
            }
            for t in 0..<threads where t / 32 > 0 { expected[b * threads + t] += sums[t / 32 - 1] }
        }
        #expect(got == expected)
        if width == 32 {
            // With a full-warp width the result is the true inclusive prefix sum of each block.
            for b in 0..<blocks {
                var running: Int32 = 0
                for t in 0..<threads {
                    running += input[b * threads + t]
                    #expect(got[b * threads + t] == running)
                }
            }
        }
    }

    @Test func cooperativeGroupsMultiWarpTilesReduxAndWarpSize() throws {
        let harness = SimHarness(smVersion: 80)
        let kernel = try harness.load("cg_tiles.cu", .ptx(arch: 80)).kernel(named: "cg_tiles")
        let blocks = 2, threads = 256
        var random = SplitMix64(seed: 64)
        let input = (0..<(blocks * threads)).map { _ in Int32(random.int(-50...50)) }
        let din = try harness.upload(input)
        let out = try harness.zeros(Int32.self, count: input.count * 4)
        try harness.run(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)), arg(din), arg(out))
        let got = try harness.download(out, count: input.count * 4, as: Int32.self)
        for i in 0..<input.count {
            let t = i % threads
            let tile64 = input[(i / 64 * 64)..<(i / 64 * 64 + 64)].reduce(0, +)
            let tile32 = input[(i / 32 * 32)..<(i / 32 * 32 + 32)].reduce(0, +)
            #expect(Array(got[(i * 4)..<(i * 4 + 4)]) == [tile64, tile32, 32, Int32(t / 64)], "thread \(i)")
        }
    }
}
