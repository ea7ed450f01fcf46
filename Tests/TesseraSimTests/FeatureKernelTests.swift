import Testing
@testable import TesseraSim

/// Vector and read-only loads, barrier reductions, half-precision conversions and sm_80 warp reductions.
@Suite struct FeatureKernelTests {
    func load() throws -> (SimHarness, SimModule) {
        let harness = SimHarness()
        return (harness, try harness.load("features_sm80.cu", .ptx(arch: 80)))
    }

    @Test func float4LoadsAndStores() throws {
        let (harness, module) = try load()
        let n = 4096
        let a = (0..<n).map { Float($0) * 0.5 }, b = (0..<n).map { Float($0 % 97) - 40 }
        let da = try harness.upload(a), db = try harness.upload(b), dc = try harness.zeros(Float.self, count: n)
        try harness.run(module.kernel(named: "add_float4"), grid: Dim3(8), block: Dim3(128), arg(da), arg(db), arg(dc), arg(Int32(n / 4)))
        #expect(try harness.download(dc, count: n, as: Float.self) == zip(a, b).map(+))
    }

    @Test func barrierCountAndOr() throws {
        let (harness, module) = try load()
        let blocks = 3, threads = 96
        var random = SplitMix64(seed: 31)
        var input = (0..<(blocks * threads)).map { _ in Int32(random.int(0...41)) }
        input[threads + 17] = 42  // only block 1 has a 42
        input[2 * threads + 5] = -1  // block 2 fails the "all non-negative" vote
        let din = try harness.upload(input), out = try harness.zeros(Int32.self, count: blocks * 3)
        try harness.run(module.kernel(named: "barrier_votes"), grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)), arg(din), arg(out))
        var expected: [Int32] = []
        for b in 0..<blocks {
            let v = input[(b * threads)..<((b + 1) * threads)]
            expected += [Int32(v.filter { $0 > 10 }.count), v.allSatisfy { $0 >= 0 } ? 1 : 0, v.contains(42) ? 1 : 0]
        }
        #expect(try harness.download(out, count: blocks * 3, as: Int32.self) == expected)
    }

    @Test func halfPrecisionConversions() throws {
        let (harness, module) = try load()
        let input: [Float] = [1, 0.1, 65504, 65520, 70000, 1e-5, 6e-8, 2e-8, -2.5, 3.14159, -0, .infinity, 1.0009766, 1.0004883]
        let n = input.count
        let din = try harness.upload(input)
        let bits = try harness.zeros(UInt16.self, count: n), back = try harness.zeros(Float.self, count: n)
        try harness.run(module.kernel(named: "half_round_trip"), grid: Dim3(1), block: Dim3(32), arg(din), arg(bits), arg(back), arg(Int32(n)))
        // Float16 conversion on the CPU rounds to nearest even, as cvt.rn.f16.f32 does.
        #expect(try harness.download(bits, count: n, as: UInt16.self) == input.map { Float16($0).bitPattern })
        #expect(try harness.download(back, count: n, as: Float.self) == input.map { Float(Float16($0)) })
    }

    @Test func warpReduceAndMatch() throws {
        let (harness, module) = try load()
        let n = 64
        var random = SplitMix64(seed: 37)
        let input = (0..<n).map { _ in Int32(random.int(-100...100)) }
        let din = try harness.upload(input), out = try harness.zeros(Int32.self, count: n * 5)
        try harness.run(module.kernel(named: "warp_reductions"), grid: Dim3(1), block: Dim3(UInt32(n)), arg(din), arg(out))
        let got = try harness.download(out, count: n * 5, as: Int32.self)
        for warp in 0..<(n / 32) {
            let v = Array(input[(warp * 32)..<(warp * 32 + 32)])
            for lane in 0..<32 {
                let tid = warp * 32 + lane
                let sameClass = (0..<32).filter { v[$0] % 3 == v[lane] % 3 }.reduce(UInt32(0)) { $0 | 1 << $1 }
                let expected: [Int32] = [
                    v.reduce(0, &+), v.min()!, Int32(bitPattern: v.map { UInt32(bitPattern: $0) }.max()!),
                    Int32(bitPattern: sameClass), v.reduce(0, ^),
                ]
                #expect(Array(got[(tid * 5)..<(tid * 5 + 5)]) == expected, "warp \(warp) lane \(lane)")
            }
        }
    }
}
